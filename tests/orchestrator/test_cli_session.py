"""``routines check``, ``simulate``, ``run`` and ``history`` as a user runs them: real processes."""

from __future__ import annotations

import itertools
import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from massager_ctl.config import Caps
from massager_ctl.orchestrator import preflight
from massager_ctl.orchestrator.dryrun import simulate
from tests.foundation.cli_support import Cli, in_process, isolate
from tests.mqtt.mqtt_support import PASSWORD, USER, Broker, free_port, write_password_file
from tests.orchestrator.orch_support import CATALOG


def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "massager_ctl", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        input=stdin,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env.pop("MASSAGER_CONFIG", None)
    return env


@pytest.mark.slow
def test_check_prints_the_plan(env: dict[str, str]) -> None:
    result = cli("routines", "check", "full-session-30-gun", "--model", "pulse-gun-p5", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["plan"]["duration_s"] == 1800
    fork = next(s for s in report["plan"]["steps"] if s["head"] == "fork")
    assert fork["head_change"] == "manual"


@pytest.mark.slow
def test_check_lists_every_problem_and_exits_2(env: dict[str, str], tmp_path: Path) -> None:
    routine = tmp_path / "hot.yaml"
    routine.write_text(
        "id: hot\ntitle: Hot\nsummary: s\nareas: [back]\ntools: [electric-massager]\nsteps:\n"
        "  - {title: Fork, duration: 60, device: {head: fork, intensity: 1.0}}\n"
        "  - {title: Heat, duration: 30m, device: {heat: high}}\n"
    )
    result = cli("routines", "check", str(routine), "--device", "sim://serial-cushion-z3", env=env)
    assert result.returncode == 2
    assert "hot cannot run on serial-cushion-z3" in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert len(problems) == 3
    assert "no head 'fork'" in problems[0]
    assert "above your cap of level 8" in problems[1]
    assert "heat on for 30:00 in a row" in problems[2]
    result = cli("routines", "check", "hot", "--model", "serial-cushion-z3", env=env)
    assert result.returncode == 2
    assert "unknown routine 'hot'" in result.stderr


@pytest.mark.slow
def test_simulate_prints_the_timeline_in_virtual_time(env: dict[str, str]) -> None:
    result = cli("simulate", "full-session-30-gun", "--model", "pulse-gun-p5", "--json", env=env)
    assert result.returncode == 0, result.stderr
    timeline = json.loads(result.stdout)
    assert timeline["status"] == "completed"
    assert timeline["total_s"] == pytest.approx(1800)
    steps = timeline["steps"]
    assert steps[0]["start_s"] == 0
    assert all(a["end_s"] == pytest.approx(b["start_s"]) for a, b in itertools.pairwise(steps))
    fork = next(s for s in steps if s["head"] == "fork" and s["intensity"])
    assert fork["prompt"]


def test_a_30_minute_dry_run_never_waits_for_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # (how long it takes in wall time: bench/dry_run.py)
    waits: list[float | None] = []
    real_selector = selectors.DefaultSelector

    class RecordingSelector(real_selector):  # type: ignore[valid-type,misc]
        def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            waits.append(timeout)
            ready: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
            return ready

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"the dry run slept {seconds} s of real time")

    monkeypatch.setattr(selectors, "DefaultSelector", RecordingSelector)
    monkeypatch.setattr(time, "sleep", no_sleep)
    plan = preflight(CATALOG.routine("full-session-30-cushion"), CATALOG.device("serial-cushion-z3"), Caps())
    timeline = simulate(plan, catalog=CATALOG)
    assert timeline.total_s == pytest.approx(1800)
    assert [round(s.start_s, 6) for s in timeline.steps] == [s.planned_start_s for s in plan.steps]
    # every poll of the loop's selector was a look, never a wait: the 30 minutes passed on the virtual clock
    assert waits, "the dry run did not run on a selector loop"
    assert set(waits) == {0}, sorted({w for w in waits if w != 0}, key=str)


@pytest.mark.slow
def test_run_writes_events_and_the_journal(env: dict[str, str], tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    routine = tmp_path / "short.yaml"
    routine.write_text(
        "id: short\ntitle: Short\nsummary: s\nareas: [back]\ntools: [electric-massager]\nsteps:\n"
        "  - {title: Settle, duration: 10, confirm: true, prompt: {text: Sit back}}\n"
        "  - {title: Warm, duration: 30, device: {head: lower, intensity: 3, heat: low}}\n"
        "  - {title: Rest, duration: 20, device: {intensity: 0, heat: 'off'}}\n"
    )
    result = cli(
        "run", str(routine), "--device", "sim://serial-cushion-z3?link=virtual", "--speed", "20", "--yes",
        "--events", str(events), env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "session completed" in result.stdout
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    kinds = [e["type"] for e in lines]
    assert kinds[0] == "session_started"
    assert kinds[-1] == "session_finished"
    assert lines[-1]["status"] == "completed"
    assert lines[0]["routine_id"] == "short"
    assert lines[-1]["session_t"] == pytest.approx(60, abs=0.5)
    assert kinds[kinds.index("waiting_for_confirm") + 1] == "confirmed"
    assert lines[0]["model"] == "serial-cushion-z3"
    assert all({"type", "session_t", "wall"} <= set(e) for e in lines)
    started = [e for e in lines if e["type"] == "step_started"]
    assert {"index", "title", "planned_start_s", "head", "intensity", "heat", "prompt"} <= set(started[0])
    assert "device_state" in kinds
    history = cli("history", "--json", env=env)
    assert history.returncode == 0, history.stderr
    report = json.loads(history.stdout)
    assert [s["status"] for s in report["sessions"]] == ["completed"]
    assert report["sessions"][0]["routine"] == "short"
    assert report["weeks"][0]["sessions"] == 1
    assert report["weeks"][0]["minutes"] == pytest.approx(lines[-1]["active_s"] / 60, abs=0.1)


@pytest.mark.slow
def test_run_refuses_bad_input(env: dict[str, str]) -> None:
    device = "serial:///dev/ttyUSB9?model=serial-cushion-z3"
    real = cli("run", "desk-break", "--device", device, "--speed", "10", env=env)
    assert real.returncode == 2
    assert "--speed" in real.stderr
    assert "sim://" in real.stderr
    waits = cli("run", "full-session-30-gun", "--device", "sim://pulse-gun-p5?link=virtual", env=env)
    assert waits.returncode == 2
    assert "--yes" in waits.stderr
    bad = cli("run", "desk-break", "--device", "bogus://x", env=env)
    assert bad.returncode == 2
    assert "expected one of" in bad.stderr


@pytest.fixture
def cli_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI in this process (no subprocess): for what needs no signals or real terminal."""
    isolate(monkeypatch, tmp_path)
    return in_process(capsys)


def test_check_shows_the_routines_highest_level_next_to_the_cap(cli_here: Cli) -> None:
    result = cli_here("routines", "check", "desk-break", "--model", "pulse-gun-p5")
    assert result.code == 0, result.err
    assert "no intensity set (your cap: level 4)" in " ".join(result.out.split())
    result = cli_here("routines", "check", "zone-cushion-back-tour", "--model", "serial-cushion-z3", "--json")
    plan = json.loads(result.out)["plan"]
    highest = max(s["intensity"] or 0 for s in plan["steps"])
    assert plan["highest_level"] == highest
    assert plan["max_level"] == 8  # the cap: 0.8 of 10
    text = " ".join(
        cli_here("routines", "check", "zone-cushion-back-tour", "--model", "serial-cushion-z3").out.split()
    )
    assert f"intensity up to level {highest} of 10 (your cap: level 8)" in text


def test_check_lists_a_problem_repeated_over_steps_once(cli_here: Cli, tmp_path: Path) -> None:
    routine = tmp_path / "forks.yaml"
    routine.write_text(
        "id: forks\ntitle: Forks\nsummary: s\nareas: [back]\ntools: [electric-massager]\nsteps:\n"
        "  - {title: Left, duration: 60, device: {head: fork, intensity: 1.0}}\n"
        "  - {title: Right, duration: 60, device: {head: fork, intensity: 1.0}}\n"
    )
    result = cli_here("routines", "check", str(routine), "--model", "serial-cushion-z3")
    assert result.code == 2
    problems = [line for line in result.err.splitlines() if line.startswith("  - ")]
    assert len(problems) == 2, result.err
    assert problems[0].startswith("  - steps 1 'Left', 2 'Right': serial-cushion-z3 has no head 'fork'")
    assert problems[1].startswith("  - steps 1 'Left', 2 'Right': intensity 1.0 is level 10 of 10")
    report = json.loads(
        cli_here("routines", "check", str(routine), "--model", "serial-cushion-z3", "--json").out
    )
    assert len(report["problems"]) == 2


def test_simulate_takes_a_device_url_like_run_and_check(cli_here: Cli) -> None:
    by_url = cli_here("simulate", "desk-break", "--device", "sim://pulse-gun-p5", "--json")
    assert by_url.code == 0, by_url.err
    by_model = cli_here("simulate", "desk-break", "--model", "pulse-gun-p5", "--json")
    assert json.loads(by_url.out)["steps"] == json.loads(by_model.out)["steps"]
    assert json.loads(by_url.out)["model"] == "pulse-gun-p5"
    neither = cli_here("simulate", "desk-break")
    assert neither.code == 2
    assert "give exactly one of --model MODEL or --device URL" in neither.err


def test_a_device_that_cannot_be_opened_is_one_line_on_stderr(cli_here: Cli, tmp_path: Path) -> None:
    port = tmp_path / "no-such-port"
    result = cli_here("run", "desk-break", "--device", f"serial://{port}?model=serial-cushion-z3", "--yes")
    assert result.code == 1
    failures = [line for line in result.err.splitlines() if "cannot open" in line]
    assert len(failures) == 1, result.err
    assert failures[0].endswith(
        f"session failed: cannot open serial port {port}: No such file or directory (active 0:00)"
    )
    assert "Errno" not in result.err
    assert "cannot open" not in result.out  # the log lines on stdout do not repeat it


@pytest.mark.slow
def test_an_unreachable_broker_is_one_error_and_no_coroutine_warning(env: dict[str, str]) -> None:
    result = cli(
        "run", "desk-break", "--device", "sim://pulse-gun-p5?link=virtual", "--yes", "--speed", "50",
        "--mqtt", f"mqtt://127.0.0.1:{free_port()}", env=env,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("error: ") == 1, result.stderr
    assert re.fullmatch(r"error: MQTT broker mqtt://127\.0\.0\.1:\d+: .*refused.*\n", result.stderr), (
        result.stderr
    )
    assert "never awaited" not in result.stderr
    assert "session started" not in result.stdout  # nothing ran


@pytest.fixture
def auth_broker(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "auth-broker"
    folder.mkdir()
    write_password_file(folder / "passwd", USER, PASSWORD)
    broker = Broker(dir=folder, port=free_port(), password_file=folder / "passwd")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.slow
def test_run_mqtt_takes_the_password_from_config_toml(
    env: dict[str, str], tmp_path: Path, auth_broker: Broker
) -> None:
    config = tmp_path / "config" / "massager-ctl" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'mqtt_password = "{PASSWORD}"\n')
    routine = tmp_path / "tiny.yaml"
    routine.write_text(
        "id: tiny\ntitle: Tiny\nsummary: s\nareas: [back]\ntools: [electric-massager]\nsteps:\n"
        "  - {title: Knead, duration: 2, device: {head: lower, intensity: 1}}\n"
    )
    result = cli(
        "run", str(routine), "--device", "sim://serial-cushion-z3?link=virtual", "--yes", "--speed", "20",
        "--mqtt", f"mqtt://{USER}@127.0.0.1:{auth_broker.port}", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "session completed" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
