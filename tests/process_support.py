"""Helpers for tests that run ``massager-sim`` and ``massager-ctl`` as real processes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

BIN = Path(sys.executable).parent


class Lines:
    """Lines of a pipe, read on a thread so the test can wait for one with a timeout."""

    def __init__(self, pipe: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(pipe,), daemon=True).start()

    def _pump(self, pipe: IO[str]) -> None:
        for line in pipe:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if predicate(line):
                return line
        raise AssertionError("never saw the expected line; got:\n" + "\n".join(self.seen[-20:]))

    def drain(self, quiet_s: float = 0.5) -> list[str]:
        while True:
            try:
                line = self._queue.get(timeout=quiet_s)
            except queue.Empty:
                return self.seen
            if line is None:
                return self.seen
            self.seen.append(line)

    def states(self) -> list[dict[str, Any]]:
        """The simulator's JSON state lines seen so far."""
        return [json.loads(line) for line in self.seen if line.startswith("{")]


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("MASSAGER_CONFIG", None)
    return env


@contextmanager
def simulator(env: dict[str, str], *args: str) -> Iterator[tuple[str, Lines]]:
    """``massager-sim serve ARGS`` in its own process: yields the URL it printed and its output lines."""
    sim = subprocess.Popen(
        [str(BIN / "massager-sim"), "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert sim.stdout is not None
    lines = Lines(sim.stdout)
    try:
        url = lines.wait_for(lambda line: "://" in line, timeout=30)
        yield url, lines
    finally:
        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()


def start_ctl(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], Lines]:
    """``massager-ctl ARGS`` in its own process, stdout and stderr merged into its lines."""
    ctl = subprocess.Popen(
        [str(BIN / "massager-ctl"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert ctl.stdout is not None
    return ctl, Lines(ctl.stdout)
