"""Suite-wide rules: strict simulated firmware, and only ``slow`` tests start processes."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from firmware_sim.firmware import STRICT_ENV


@pytest.fixture(autouse=True)
def strict_firmware(monkeypatch: pytest.MonkeyPatch) -> None:
    # the environment also reaches `massager-sim serve` subprocesses and sim:// devices the controller builds
    monkeypatch.setenv(STRICT_ENV, "1")


class ProcessInFastTestError(AssertionError):
    """A test without the ``slow`` mark tried to start a process."""


@pytest.fixture(autouse=True)
def processes_only_in_slow_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # `./scripts/test --fast` (-m "not slow") is the inner loop: a process start there (a CLI run, the
    # simulator, mosquitto) costs seconds on a loaded machine, so it fails the test that forgot the mark.
    # Every way of starting one (subprocess.run, Popen, asyncio's subprocesses) ends in _execute_child.
    if request.node.get_closest_marker("slow") is not None:
        return

    def refuse(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        raise ProcessInFastTestError(
            f"{request.node.nodeid} starts a process ({args!r}) but is not marked @pytest.mark.slow"
        )

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)
