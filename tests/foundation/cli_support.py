"""Run ``massager-ctl`` in-process, as its console script would, with no settings from the machine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmware_sim.firmware import STRICT_ENV
from massager_ctl.cli import main


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Settings folders under ``home``; no MASSAGER_* variable or terminal width from the caller."""
    import os

    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("COLUMNS", "80")
    for name in list(os.environ):
        if name.startswith("MASSAGER_") and name != STRICT_ENV:
            monkeypatch.delenv(name)


def in_process(capsys: pytest.CaptureFixture[str]) -> Cli:
    """``cli(*args)`` runs :func:`massager_ctl.cli.main` and returns its exit code, stdout and stderr."""

    def cli(*args: str) -> Result:
        with pytest.raises(SystemExit) as stop:
            main(list(args))
        captured = capsys.readouterr()
        code = stop.value.code
        return Result(
            code if isinstance(code, int) else (0 if code is None else 1), captured.out, captured.err
        )

    return cli
