"""Real processes: ``massager-ctl run`` against ``massager-sim serve`` over a pty, then signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process_support import Lines, cli_env, start_ctl
from tests.process_support import simulator as serve_simulator

pytestmark = pytest.mark.slow

ROUTINE = (
    "id: warm-back\ntitle: Warm back\nsummary: s\nareas: [back]\ntools: [electric-massager]\nsteps:\n"
    "  - {title: Warm lower back, duration: 120, device: {head: lower, intensity: 4, heat: low, ramp: 1s}}\n"
    "  - {title: Rest, duration: 20, device: {intensity: 0, heat: 'off'}}\n"
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


@pytest.fixture
def simulator(env: dict[str, str]) -> Iterator[tuple[str, Lines]]:
    with serve_simulator(env, "serial-cushion-z3", "--json-state") as served:
        yield served


def start_run(url: str, routine: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], Lines]:
    return start_ctl(env, "run", str(routine), "--device", url, "--yes")


@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_signal_mid_step_exits_with_motor_and_heat_off(
    simulator: tuple[str, Lines], env: dict[str, str], tmp_path: Path, signum: signal.Signals, exit_code: int
) -> None:
    url, sim_lines = simulator
    routine = tmp_path / "warm.yaml"
    routine.write_text(ROUTINE)
    run, out = start_run(url, routine, env)
    try:
        out.wait_for(lambda line: "device: head lower, intensity 4, heat low" in line)
        # the simulator reports the motor running and the heat on, as the controller does
        sim_lines.wait_for(lambda line: line.startswith("{") and json.loads(line)["intensity"] == 4)
        assert sim_lines.states()[-1]["heat"] == 1
        run.send_signal(signum)
        code = run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    log = out.drain(quiet_s=1.0)
    assert code == exit_code, "\n".join(log)
    assert any(f"session stopped: interrupted by {signum.name}" in line for line in log)
    sim_lines.drain(quiet_s=1.0)
    last = sim_lines.states()[-1]
    assert last["motor"] is False
    assert last["intensity"] == 0
    assert last["heat"] == 0
    assert last["watchdog_tripped"] is False  # stopped by the controller, not by the device's watchdog


def test_killed_controller_leaves_an_interrupted_session_in_the_journal(
    simulator: tuple[str, Lines], env: dict[str, str], tmp_path: Path
) -> None:
    url, sim_lines = simulator
    routine = tmp_path / "warm.yaml"
    routine.write_text(ROUTINE)
    run, out = start_run(url, routine, env)
    try:
        out.wait_for(lambda line: "device: head lower, intensity 4, heat low" in line)
        run.kill()
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
    # nobody stopped the device: its own watchdog does
    tripped = sim_lines.wait_for(
        lambda line: line.startswith("{") and json.loads(line)["watchdog_tripped"], timeout=15
    )
    assert (json.loads(tripped)["intensity"], json.loads(tripped)["heat"]) == (0, 0)
    history = subprocess.run(
        [sys.executable, "-m", "massager_ctl", "history", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert history.returncode == 0, history.stderr
    sessions = json.loads(history.stdout)["sessions"]
    assert [(s["routine"], s["status"]) for s in sessions] == [("warm-back", "interrupted")]


def test_signal_with_the_device_unreachable_exits_1_with_a_warning(
    env: dict[str, str], tmp_path: Path
) -> None:
    routine = tmp_path / "warm.yaml"
    routine.write_text(ROUTINE)
    url = "sim://serial-cushion-z3?link=virtual&faults=drop_link_at=2,reconnect_after=600"
    run, out = start_run(url, routine, env)
    try:
        out.wait_for(lambda line: "link lost" in line)
        run.send_signal(signal.SIGINT)
        code = run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    log = out.drain(quiet_s=1.0)
    assert code == 1, "\n".join(log)  # not 130: the stop was never confirmed
    assert any("WARNING: the device did not confirm motor and heat off" in line for line in log), log
