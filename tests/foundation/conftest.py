"""The in-process CLI for the foundation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.foundation.cli_support import Cli, in_process, isolate


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    isolate(monkeypatch, tmp_path)
    return in_process(capsys)
