"""``run``'s live view in a real 80×24 terminal (tmux): it fits, and nothing stale stays on it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from massager_ctl.ui.keys import HELP

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

ROUTINE = """\
id: fork-check
title: Fork head check
summary: s
areas: [upper-back]
tools: [electric-massager]
safety: ["Keep the prongs beside the spine, never on it."]
steps:
  - {title: Fit the fork, duration: 5, confirm: true, device: {head: fork, intensity: 0.0},
     prompt: {text: Hold the gun in your right hand}}
  - {title: Fork left, duration: 4, device: {head: fork, intensity: 2},
     prompt: {text: Glide beside the spine on the left}}
  - {title: Fork right, duration: 600, device: {head: fork, intensity: 2},
     prompt: {text: Glide beside the spine on the right}}
"""


class Tmux:
    """One tmux server of its own, one 80×24 window running a command."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "run")

    def wait_for(
        self, text: str, *, every: Callable[[str], None] | None = None, timeout: float = 60.0
    ) -> str:
        """Poll the screen until ``text`` shows; ``every`` checks each screen seen on the way."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if every is not None:
                every(screen)
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(tmp_path / "tmux.sock")
    yield server
    subprocess.run(["tmux", "-S", str(server.socket), "kill-server"], capture_output=True, timeout=10)


def prompt_box(screen: str) -> str:
    """The text inside the prompt's box (the log lines below it may quote an old prompt)."""
    return " ".join(line.strip("│ ") for line in screen.splitlines() if line.startswith("│"))


def fits(screen: str) -> None:
    """Whenever the prompt shows, the key help and both progress bars show with it."""
    if prompt_box(screen):
        assert HELP in screen, screen
        assert "step " in screen, screen
        assert "session " in screen, screen


def test_the_live_view_fits_80x24_through_a_head_change(tmux: Tmux, tmp_path: Path) -> None:
    routine = tmp_path / "fork.yaml"
    routine.write_text(ROUTINE)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    command = shlex.join(
        [
            sys.executable,
            "-m",
            "massager_ctl",
            "run",
            str(routine),
            "--device",
            "sim://pulse-gun-p5?link=virtual",
        ]
    )
    tmux("-f", os.devnull, "new-session", "-d", "-s", "run", "-x", "80", "-y", "24",
         *(f"-e{k}={v}" for k, v in env.items()), "-e", "TERM=xterm-256color", command)  # fmt: skip
    tmux("set-option", "-t", "run", "remain-on-exit", "on")

    tmux.wait_for("Press Enter once you have read these")
    assert "Keep the prongs beside the spine, never on it." in tmux.screen()
    tmux("send-keys", "-t", "run", "Enter")

    waiting = tmux.wait_for("WAITING FOR YOU", every=fits)
    tmux.wait_for("Fit the Fork head", every=fits)
    assert "Fit the Fork head" in prompt_box(waiting) or "Fit the Fork head" in prompt_box(tmux.screen())
    assert "Step 1/3" in tmux.screen()
    tmux("send-keys", "-t", "run", "Enter")

    def no_stale_prompt(screen: str) -> None:
        fits(screen)
        assert "Fit the Fork head" not in prompt_box(screen), screen
        assert "WAITING FOR YOU" not in screen, screen  # the confirmed head is not asked for again

    confirmed = tmux.wait_for("confirmed (user)", every=fits)  # drawn with the prompt that follows it
    no_stale_prompt(confirmed)
    assert "Hold the gun in your right hand" in prompt_box(confirmed)
    tmux.wait_for("Glide beside the spine on the left", every=no_stale_prompt)
    screen = tmux.wait_for("Glide beside the spine on the right", every=no_stale_prompt)
    assert "intensity 2/5" in screen
    tmux("send-keys", "-t", "run", "e")
    tmux.wait_for("step extended by 0:30", every=no_stale_prompt)
    tmux("send-keys", "-t", "run", "q")

    end = tmux.wait_for("the device confirmed motor and heat off")
    assert "Session stopped" in end
    assert "steps done 2/3" in end
    assert HELP in end
