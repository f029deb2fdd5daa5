"""``run`` with no device: prompt-only routines need none, and a simulator is only used when asked for."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.cli.running import acknowledge_safety
from massager_ctl.config import Caps
from massager_ctl.drivers.base import DeviceState
from massager_ctl.drivers.nodevice import NO_DEVICE, NoDeviceConnector, needs_device
from massager_ctl.errors import ConfigError, DeviceRefusedError
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.person import AutoPerson
from tests.foundation.cli_support import Cli, in_process, isolate

CATALOG = Catalog()


@pytest.fixture
def cli_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    isolate(monkeypatch, tmp_path)
    return in_process(capsys)


def events_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_prompt_only_routine_runs_with_no_device(cli_here: Cli, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    result = cli_here("run", "desk-break", "--yes", "--speed", "1000", "--events", str(events))
    assert result.code == 0, result.err
    lines = events_of(events)
    assert lines[0]["type"] == "session_started"
    assert (lines[0]["device"], lines[0]["model"]) == ("no device", "no-device")
    steps = [e for e in lines if e["type"] == "step_started"]
    assert len(steps) == len(CATALOG.routine("desk-break").plan())
    assert all(e["intensity"] is None and e["head"] is None for e in steps)
    assert lines[-1]["type"] == "session_finished"
    assert lines[-1]["status"] == "completed"
    assert "with no device" in result.out
    assert "sim://" not in result.out
    assert "device:" not in result.out  # no device line for a device that does not exist


def test_a_device_routine_with_no_device_says_what_to_pass_in_one_line(cli_here: Cli) -> None:
    result = cli_here("run", "upper-back-massage-gun", "--yes")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "pass --device URL" in lines[0]
    assert "sim://MODEL" in lines[0]
    assert result.out == ""  # refused before anything was shown or moved


def test_a_simulator_is_used_when_asked_for(cli_here: Cli, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    result = cli_here(
        "run", "desk-break", "--device", "sim://pulse-gun-p5?link=virtual", "--yes", "--speed", "1000",
        "--events", str(events),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert events_of(events)[0]["model"] == "pulse-gun-p5"


def test_the_default_device_setting_is_used_when_set(
    cli_here: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASSAGER_DEFAULT_DEVICE", "sim://serial-cushion-z3?link=virtual")
    events = tmp_path / "events.jsonl"
    result = cli_here("run", "desk-break", "--yes", "--speed", "1000", "--events", str(events))
    assert result.code == 0, result.err
    assert events_of(events)[0]["model"] == "serial-cushion-z3"


def test_which_routines_need_a_device() -> None:
    assert not needs_device(CATALOG.routine("desk-break"))
    assert not needs_device(CATALOG.routine("upper-back-foam-roller"))
    assert needs_device(CATALOG.routine("upper-back-massage-gun"))
    assert needs_device(CATALOG.routine("lower-back-heat-cushion"))


async def test_no_device_is_always_confirmed_off_and_refuses_settings() -> None:
    driver = await NoDeviceConnector().connect()
    assert driver.profile is NO_DEVICE
    assert driver.state.connected
    assert driver.state.safe
    assert (await driver.stop()).safe
    assert (await driver.set_intensity(0)).safe
    with pytest.raises(DeviceRefusedError, match="no device"):
        await driver.set_intensity(1)
    with pytest.raises(DeviceRefusedError, match="no device"):
        await driver.set_heat(1)

    async def first_state() -> DeviceState:
        return await anext(driver.states())

    states = asyncio.create_task(first_state())
    await asyncio.sleep(0)
    assert not states.done()  # nothing changes while the session holds it
    await driver.close()
    assert not (await states).connected


async def test_the_engine_runs_a_prompt_only_plan_on_no_device() -> None:
    plan = preflight(CATALOG.routine("upper-back-foam-roller"), NO_DEVICE, Caps())
    connector = NoDeviceConnector(speed=1000.0)
    session = Session(
        plan, connect=connector.connect, device_url="no device", person=AutoPerson(), speed=connector.speed
    )
    result = await session.run()
    assert (result.status, result.device_safe) == ("completed", True)


def test_a_device_routine_does_not_pass_preflight_on_no_device() -> None:
    with pytest.raises(Exception, match="no-device"):
        preflight(CATALOG.routine("upper-back-massage-gun"), NO_DEVICE, Caps())


def test_speed_must_be_positive_with_no_device(cli_here: Cli) -> None:
    result = cli_here("run", "desk-break", "--yes", "--speed", "0")
    assert result.code == 2
    assert "--speed must be more than 0" in result.err


# ---------------------------------------------------------------- safety notes (point 4)


def test_safety_notes_come_before_the_first_step(cli_here: Cli) -> None:
    result = cli_here("run", "desk-break", "--yes", "--speed", "1000")
    assert result.code == 0, result.err
    notes = CATALOG.routine("desk-break").safety
    assert notes
    out = " ".join(result.out.split())  # the notes are wrapped to the terminal
    first_step = out.index("step 1/")
    for note in notes:
        assert 0 <= out.index(note) < first_step
    assert out.index("acknowledged with --yes") < out.index("session started")


def test_without_a_terminal_or_yes_the_safety_notes_refuse_the_run(cli_here: Cli, tmp_path: Path) -> None:
    result = cli_here("run", "desk-break", "--speed", "1000")
    assert result.code == 2
    assert "safety notes" in result.err
    assert "--yes" in result.err
    assert "session started" not in result.out
    history = cli_here("history", "--json")
    assert json.loads(history.out)["sessions"] == []  # nothing started


def test_enter_acknowledges_the_safety_notes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    routine = CATALOG.routine("desk-break")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    acknowledge_safety(routine, yes=False, tty=True)
    shown = " ".join(capsys.readouterr().out.split())
    assert all(note in shown for note in routine.safety)
    assert "Press Enter" in shown
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # the terminal closed before Enter
    with pytest.raises(ConfigError, match="not acknowledged"):
        acknowledge_safety(routine, yes=False, tty=True)
