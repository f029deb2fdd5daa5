"""``massager-sim`` as a process: the URL line, JSON state lines, signals, kill -9 of ``massager-ctl run``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow

SIM = [sys.executable, "-m", "firmware_sim.cli"]
CTL = [sys.executable, "-m", "massager_ctl"]
STATE_KEYS: dict[str, type | tuple[type, ...]] = {
    "t": float,
    "motor": bool,
    "head": (str, type(None)),
    "intensity": int,
    "heat": int,
    "temperature_c": float,
    "battery": (int, type(None)),
    "watchdog_tripped": bool,
}


class Served:
    """A running ``massager-sim serve`` and its stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.url = ""

    async def line(self) -> str:
        async with asyncio.timeout(10):
            return await self._next_line()

    async def _next_line(self) -> str:
        assert self.process.stdout is not None
        raw = await self.process.stdout.readline()
        assert raw, "massager-sim serve closed its stdout"
        return raw.decode()

    async def state_where(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The next JSON state that ``predicate`` accepts; the caller bounds the wait."""
        while True:
            state: dict[str, Any] = json.loads(await self._next_line())
            if predicate(state):
                return state

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), 5)


@contextlib.asynccontextmanager
async def serve(*args: str) -> AsyncIterator[Served]:
    process = await asyncio.create_subprocess_exec(
        *SIM,
        "serve",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    served = Served(process)
    try:
        served.url = (await served.line()).strip()
        yield served
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_list_shows_every_model() -> None:
    script = Path(sys.executable).with_name("massager-sim")
    command = [str(script)] if script.exists() else SIM
    result = subprocess.run([*command, "list"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [(row[0], row[1], row[2]) for row in rows] == [
        ("keeson-base-i4", "keeson", "ble"),
        ("keeson-base-i5", "keeson", "ble"),
        ("pulse-gun-p5", "mbin", "ble"),
        ("reverie-base", "reverie", "ble"),
        ("richmat-wilinke-base", "richmat", "ble"),
        ("rongtai-rt6923-chair", "rongtai", "pty"),
        ("serial-cushion-z3", "mascii", "pty,"),
        ("shiatsu-cushion-s3", "mbin", "ble"),
        ("theragun-elite-4", "theragun", "ble"),
        ("theragun-prime-4", "theragun", "ble"),
        ("theragun-pro-4", "theragun", "ble"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-model"], "unknown model 'no-such-model'"),
        (["serial-cushion-z3", "--faults", "wobble=1"], "unknown fault 'wobble'"),
        (["serial-cushion-z3", "--serial", "usb"], "must be 'pty' or 'tcp:PORT'"),
        (["serial-cushion-z3", "--speed", "0"], "--speed must be positive"),
    ],
)
def test_serve_rejects_bad_input_with_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run([*SIM, "serve", *args], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


async def test_serve_pty_prints_url_then_json_state_and_exits_0_on_sigterm() -> None:
    async with serve("serial-cushion-z3", "--json-state") as served:
        parts = urlsplit(served.url)
        assert (parts.scheme, parts.query) == ("serial", "model=serial-cushion-z3")
        assert parts.path.startswith("/dev/pts/")
        state = json.loads(await served.line())
        for key, kind in STATE_KEYS.items():
            assert isinstance(state[key], kind), key
        assert (state["motor"], state["head"], state["intensity"], state["battery"]) == (
            False,
            "middle",
            0,
            None,
        )
        assert await served.stop(signal.SIGTERM) == 0


def caught_signals(pid: int) -> int:
    """The process's SigCgt mask: the signals it has handlers for (bit n-1 for signal n)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    return 0


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2], ids=lambda d: f"{d}s")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_stop_signal_during_start_up_exits_0(sig: signal.Signals, delay: float) -> None:
    process = subprocess.Popen(
        [*SIM, "serve", "serial-cushion-z3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        # main() has installed its handlers once /proc shows SIGTERM caught; then signal at some point of
        # the start-up that follows (catalog, event loop, pty). A process's signal mask announces nothing,
        # so it is polled (bounded); the sleep after it is the test's parameter: where in the start-up
        # the signal lands, in the real time of that other process.
        deadline = time.monotonic() + 10
        while not caught_signals(process.pid) & 1 << (signal.SIGTERM - 1):
            assert time.monotonic() < deadline, "massager-sim never installed its signal handlers"
            time.sleep(0.001)
        time.sleep(delay)
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr.decode()
    assert stderr == b""
    assert stdout in (b"", stdout[: stdout.find(b"\n") + 1])  # nothing, or just the URL once it was ready
    if delay == 0.0:
        assert stdout == b"", "the signal should have landed before the device was announced"


async def test_repeated_signals_while_stopping_still_exit_0() -> None:
    async with serve("serial-cushion-z3", "--serial", "tcp:0") as served:
        for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGINT):
            served.process.send_signal(sig)
        assert await asyncio.wait_for(served.process.wait(), 5) == 0


async def test_serve_tcp_and_sigint() -> None:
    async with serve("serial-cushion-z3", "--serial", "tcp:0") as served:
        parts = urlsplit(served.url)
        assert parts.scheme == "tcp"
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(b"$PING*10\r\n")
        assert await asyncio.wait_for(reader.readline(), 5) == b"!OK,PING*38\r\n"
        # stopped with the client still connected: it is hung up, and nothing lands on stderr
        assert await served.stop(signal.SIGINT) == 0
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert served.process.stderr is not None
        assert await served.process.stderr.read() == b""


async def test_serve_ble_model_prints_a_ble_url() -> None:
    async with serve("pulse-gun-p5", "--json-state") as served:
        parts = urlsplit(served.url)
        assert parts.scheme == "ble"
        assert "model=pulse-gun-p5" in parts.query
        state = json.loads(await served.line())
        assert (state["head"], state["battery"]) == ("ball", 100)
        assert await served.stop() == 0


async def test_person_controls_on_stdin() -> None:
    async with serve("pulse-gun-p5", "--json-state", "--controls", "--head", "none") as served:
        assert served.process.stdin is not None
        assert served.process.stderr is not None
        assert json.loads(await served.line())["head"] is None
        served.process.stdin.write(b"fit fork\nfit upper\nbattery 12\n")
        await served.process.stdin.drain()
        assert json.loads(await served.line())["head"] == "fork"
        state = json.loads(await served.line())
        assert (state["battery"], state["low_battery"]) == (12, True)
        async with asyncio.timeout(5):
            complaint = await served.process.stderr.readline()
        assert b"pulse-gun-p5 has no head 'upper'" in complaint
        assert await served.stop() == 0


WARM_BACK = """\
id: warm-back
title: Warm back
summary: Heat and the lower zone together, long enough to be killed mid-step.
areas: [back]
tools: [electric-massager]
steps:
  - {title: Warm lower back, duration: 120, device: {head: lower, intensity: 4, heat: low}}
"""
WATCHDOG_S = 3.0  # serial-cushion-z3's watchdog.timeout_s
#: The firmware's deadline is at most WATCHDOG_S after the kill (the controller's last frame came before it).
#: What is left is scheduling on a busy machine: the simulator reading a frame still in the pty, its timer
#: firing late, and its JSON line reaching this process, each a few scheduler ticks at worst.
SLACK_S = 0.5


async def test_massager_ctl_run_killed_mid_step_device_stops_within_watchdog_timeout(tmp_path: Path) -> None:
    routine = tmp_path / "warm-back.yaml"
    routine.write_text(WARM_BACK)
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    env.pop("MASSAGER_CONFIG", None)
    log = tmp_path / "run.log"
    async with serve("serial-cushion-z3", "--json-state") as served:
        with log.open("wb") as out:
            controller = await asyncio.create_subprocess_exec(
                *CTL, "run", str(routine), "--device", served.url, "--yes",
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        try:
            try:  # a loaded machine starts the controller slowly
                async with asyncio.timeout(60):
                    running = await served.state_where(lambda s: s["motor"] and s["heat"] > 0)
            except TimeoutError:
                raise AssertionError(f"the step never started:\n{log.read_text()}") from None
            assert running["head"] == "lower"
            assert not running["watchdog_tripped"]
            controller.kill()  # kill -9 mid-step: no stop command, no cleanup
            killed = time.monotonic()
            await controller.wait()
            async with asyncio.timeout(10):
                state = await served.state_where(lambda s: s["watchdog_tripped"])
            elapsed = time.monotonic() - killed
        finally:
            if controller.returncode is None:
                controller.kill()
                await controller.wait()
        assert (state["motor"], state["intensity"], state["heat"]) == (False, 0, 0), log.read_text()
        # a safety bound, not a speed figure: the real firmware process's real-time watchdog stopped the
        # device within its timeout (plus scheduling slack) of the controller's death
        assert elapsed <= WATCHDOG_S + SLACK_S, f"stopped {elapsed:.2f} s after the kill"
        assert await served.stop() == 0
