"""``massager-sim serve`` + ``massager-ctl devices try <printed URL>`` as real processes, and signals."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from massager_ctl.catalog import Catalog
from tests.process_support import cli_env, simulator, start_ctl

pytestmark = pytest.mark.slow

SPEED = 2.0  # the Z3's 3 s watchdog trips 1.5 s after the controller goes quiet
Z3_WATCHDOG_S = Catalog().device("serial-cushion-z3").watchdog.timeout_s
#: Scheduling on a busy machine: the simulator's timer firing late and its JSON line reaching this process.
SLACK_S = 0.5


def outlast_the_watchdog(speed: float) -> None:
    """Wait until the simulator's watchdog would have tripped had the controller just died.

    A real process's real-time watchdog cannot be fast-forwarded, and what the test checks is that nothing
    happens (no trip), so there is no event to wait for: the wait is the firmware's own bound.
    """
    time.sleep(Z3_WATCHDOG_S / speed + SLACK_S)


@pytest.mark.parametrize(
    ("model", "serve_args", "scheme"),
    [
        ("serial-cushion-z3", ["--serial", "pty"], "serial://"),
        ("serial-cushion-z3", ["--serial", "tcp:0"], "tcp://127.0.0.1:"),
        ("pulse-gun-p5", [], "ble://"),
        ("shiatsu-cushion-s3", [], "ble://"),
    ],
    ids=["z3-pty", "z3-tcp", "p5-ble", "s3-ble"],
)
def test_devices_try_works_on_the_url_the_simulator_prints(
    tmp_path: Path, model: str, serve_args: list[str], scheme: str
) -> None:
    env = cli_env(tmp_path)
    with simulator(env, model, "--json-state", *serve_args) as (url, sim_lines):
        assert url.startswith(scheme)
        ctl, out = start_ctl(env, "devices", "try", url, "--dwell", "0")
        try:
            code = ctl.wait(timeout=60)
        finally:
            if ctl.poll() is None:
                ctl.kill()
        log = out.drain()
        assert code == 0, "\n".join(log)
        assert log[0].startswith("connected: ")
        assert f"({model}, code 0x" in log[0]
        assert log[-1].startswith("stopped (confirmed): motor off, intensity 0, heat 0")
        sim_lines.drain()
        sim_states = sim_lines.states()
        # the device really ran up to its top intensity, then really ended stopped
        assert max(s["intensity"] for s in sim_states) == Catalog().device(model).intensity.max_level
        last = sim_states[-1]
        assert (last["motor"], last["intensity"], last["heat"]) == (False, 0, 0)
        assert last["watchdog_tripped"] is False


@pytest.mark.parametrize(
    ("signum", "exit_code", "phase", "running", "dwell"),
    [
        (signal.SIGINT, 130, "head upper", "intensity", "5"),
        (signal.SIGTERM, 143, "heat low", "heat", "1.5"),
    ],
    ids=["SIGINT-motor", "SIGTERM-heat"],
)
def test_devices_try_stops_the_device_on_a_signal(
    tmp_path: Path, signum: signal.Signals, exit_code: int, phase: str, running: str, dwell: str
) -> None:
    env = cli_env(tmp_path)
    with simulator(env, "serial-cushion-z3", "--json-state", "--speed", str(SPEED)) as (url, sim_lines):
        ctl, out = start_ctl(env, "devices", "try", url, "--dwell", dwell)
        try:
            out.wait_for(lambda line: line.startswith(f"{phase}:"))
            # the simulator reports the motor (or heat) running, as the controller said
            sim_lines.wait_for(lambda line: line.startswith("{") and json.loads(line)[running] > 0)
            ctl.send_signal(signum)
            code = ctl.wait(timeout=30)
        finally:
            if ctl.poll() is None:
                ctl.kill()
        log = out.drain()
        assert code == exit_code, "\n".join(log)
        assert "interrupted: stopping the device" in log
        assert log[-1].startswith("stopped (confirmed): motor off, intensity 0, heat 0")
        outlast_the_watchdog(SPEED)
        sim_lines.drain()
        last = sim_lines.states()[-1]
        assert (last["motor"], last["intensity"], last["heat"]) == (False, 0, 0)
        assert last["watchdog_tripped"] is False, "the watchdog stopped it, not the controller"


def test_devices_try_reconnects_to_stop_a_device_whose_link_dropped(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    # the TCP link drops 4 s after the controller's first frame, mid-way through its eight one-second steps
    # however slowly the controller started, and the device listens again half a second later
    faults = "drop_link_after=4,reconnect_after=0.5"
    serve = ("serial-cushion-z3", "--json-state", "--serial", "tcp:0", "--faults", faults)
    with simulator(env, *serve) as (url, sim_lines):
        ctl, out = start_ctl(env, "devices", "try", url, "--dwell", "1")
        try:
            out.wait_for(lambda line: line.startswith("connected: "))
            code = ctl.wait(timeout=30)
        finally:
            if ctl.poll() is None:
                ctl.kill()
        log = out.drain()
        assert code == 1, "\n".join(log)
        assert any(line.endswith("stop not confirmed; reconnecting to stop it") for line in log), log
        assert log[-1].startswith("error: "), log
        assert "closed by the other end" in log[-1]
        assert any(line.startswith("stopped (confirmed): motor off, intensity 0, heat 0") for line in log)
        outlast_the_watchdog(1.0)
        sim_lines.drain()
        states = sim_lines.states()
        assert any(not s["connected"] for s in states), "the link never dropped"
        assert any(s["motor"] or s["heat"] for s in states)
        last = states[-1]
        assert (last["motor"], last["intensity"], last["heat"]) == (False, 0, 0)
        assert last["watchdog_tripped"] is False, "the watchdog stopped it, not the controller"
