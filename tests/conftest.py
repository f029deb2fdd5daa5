"""Every simulated firmware in the suite is strict: a firmware bug fails the test instead of a log line."""

from __future__ import annotations

import pytest

from firmware_sim.firmware import STRICT_ENV


@pytest.fixture(autouse=True)
def strict_firmware(monkeypatch: pytest.MonkeyPatch) -> None:
    # the environment also reaches `massager-sim serve` subprocesses and sim:// devices the controller builds
    monkeypatch.setenv(STRICT_ENV, "1")
