"""The live view on a real terminal (a pty): it draws, and its keys pause, resume, nudge and stop."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROUTINE = (
    "id: live\ntitle: Live view check\nsummary: s\nareas: [back]\ntools: [electric-massager]\nsteps:\n"
    "  - {title: Sit back, duration: 3, confirm: true, prompt: {text: Sit back against the cushion}}\n"
    "  - {title: Upper zone, duration: 300, device: {head: upper, intensity: 3},"
    " prompt: {text: Relax your shoulders}}\n"
)


class Terminal:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.screen = ""

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.screen:
                return
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:
                    break
        raise AssertionError(f"{text!r} never appeared; screen tail:\n{self.screen[-2000:]}")

    def press(self, key: str) -> None:
        self.screen = ""  # look only at what is drawn after the key
        os.write(self.fd, key.encode())


def test_live_view_keys(tmp_path: Path) -> None:
    routine = tmp_path / "live.yaml"
    routine.write_text(ROUTINE)
    env = dict(os.environ)
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        COLUMNS="100",
        LINES="40",
    )
    env.pop("MASSAGER_CONFIG", None)
    main, child = os.openpty()
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "massager_ctl",
            "run",
            str(routine),
            "--device",
            "sim://serial-cushion-z3?link=virtual",
        ],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        start_new_session=True,
    )
    os.close(child)
    term = Terminal(main)
    try:
        term.wait_for("Sit back against the cushion")
        term.wait_for("WAITING FOR YOU")
        term.press("\r")
        term.wait_for("Relax your shoulders")
        term.wait_for("intensity 3/10")
        term.press(" ")
        term.wait_for("PAUSED")
        term.wait_for("intensity 0/10")
        term.press(" ")
        term.wait_for("intensity 3/10")
        term.press("+")
        term.wait_for("intensity 4/10")
        term.press("q")
        code = run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        os.close(main)
    assert code == 0
    history = subprocess.run(
        [sys.executable, "-m", "massager_ctl", "history", "--json"], capture_output=True, text=True, env=env
    )
    session = json.loads(history.stdout)["sessions"][0]
    assert (session["status"], session["reason"]) == ("stopped", "stopped by the user")
