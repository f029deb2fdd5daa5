"""``manual://``: a heat change waits for the person, generic kinds, an honest stop, and check/simulate."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.drivers.manual import ManualConnector, manual_profile
from massager_ctl.errors import ConfigError
from massager_ctl.events import BaseEvent, EventBus, Notice, WaitingForConfirm
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.ui.live import LiveView
from tests.foundation.cli_support import Cli, in_process, isolate
from tests.orchestrator.orch_support import make_routine
from tests.virtual_time import IN_MEMORY

CATALOG = Catalog()
#: How long the person takes at each wait.
SLOW_S = 100.0
HEATED = [
    {"title": "Warm", "duration": 60, "device": {"intensity": 1, "heat": "low"}},
    {"title": "Warmer", "duration": 60, "device": {"intensity": 1, "heat": "high"}},
    {"title": "Cool down", "duration": 60, "device": {"intensity": 1, "heat": "off"}},
    {"title": "Warm again", "duration": 60, "device": {"intensity": 1, "heat": "low"}},
]


@pytest.fixture
def cli_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    isolate(monkeypatch, tmp_path)
    return in_process(capsys)


async def _run_with_a_slow_person(
    url: str, steps: list[dict[str, object]]
) -> tuple[Session, list[BaseEvent], list[tuple[float, int]]]:
    """Run ``steps`` under ``url``; the person confirms each wait :data:`SLOW_S` after it starts."""
    plan = preflight(make_routine(steps), manual_profile(url, CATALOG), Caps())
    bus = EventBus()
    session = Session(plan, connect=ManualConnector(plan.profile).connect, device_url=url, bus=bus)
    events = bus.subscribe(maxsize=4096)
    watched = bus.subscribe(maxsize=4096)
    heat: list[tuple[float, int]] = []  # what the person was told, each session second

    async def person() -> None:
        async for event in watched:
            if isinstance(event, WaitingForConfirm):
                await asyncio.sleep(SLOW_S)
                session.confirm()

    async def told() -> None:
        while True:
            driver = session.driver
            heat.append((session.clock.now(), driver.state.heat if driver is not None else -1))
            await asyncio.sleep(1.0)

    helpers = [asyncio.create_task(person()), asyncio.create_task(told())]
    await session.run()
    bus.close()
    for task in helpers:
        task.cancel()
    await asyncio.gather(*helpers, return_exceptions=True)
    return session, [event async for event in events], heat


@IN_MEMORY
async def test_a_heat_change_waits_for_the_persons_confirm_and_its_time_starts_then() -> None:
    session, events, heat = await _run_with_a_slow_person("manual://shiatsu-cushion-s3", HEATED)
    assert session.result is not None
    assert session.result.status == "completed"
    waits = [e for e in events if isinstance(e, WaitingForConfirm)]
    assert [(w.index, w.reason, w.prompt) for w in waits] == [
        (0, "confirm", "Switch the heat to low, then confirm."),
        (1, "confirm", "Switch the heat to high, then confirm."),
        (2, "confirm", "Switch the heat off, then confirm."),
        (3, "confirm", "Switch the heat to low, then confirm."),
    ]
    confirmed = [e.session_t for e in events if e.type == "confirmed"]
    finished = [e.session_t for e in events if e.type == "step_finished"]
    for at, end in zip(confirmed, finished, strict=True):
        assert end == pytest.approx(at + 60, abs=0.05)  # each step's time starts at the confirm
    for wait, at, level in zip(waits, confirmed, [1, 2, 0, 1], strict=True):
        # heat is only told on after the confirm: the wait itself holds it off
        during = [told for t, told in heat if wait.session_t + 0.5 < t < at - 0.5]
        assert during
        assert set(during) == {0}
        assert [told for t, told in heat if at + 0.5 < t < at + 1.5] == [level]


@IN_MEMORY
async def test_the_heat_budget_counts_from_the_confirm_not_from_the_ask() -> None:
    session, events, _ = await _run_with_a_slow_person("manual://shiatsu-cushion-s3", HEATED)
    plan = session.plan
    assert plan.heat_budget_s == 180
    confirmed = [e.session_t for e in events if e.type == "confirmed"]
    slack = max(2.0, plan.profile.silence_stop_s or 0.0)
    cuts = [e for e in events if isinstance(e, Notice) and "heat" in e.message]
    # 100 s of waiting before each heated step does not spend heat; the cut comes near the budget's end
    assert len(cuts) == 1
    assert cuts[0].session_t == pytest.approx(confirmed[3] + 60 - slack, abs=0.5)


async def test_the_stop_is_the_persons_to_do_not_a_devices() -> None:
    plan = preflight(
        CATALOG.routine("upper-back-massage-gun"), manual_profile("manual://massage-gun", CATALOG), Caps()
    )
    bus = EventBus()
    session = Session(
        plan,
        connect=ManualConnector(plan.profile, speed=2000.0).connect,
        device_url="manual://massage-gun",
        bus=bus,
        person=AutoPerson(),
        speed=2000.0,
    )
    view = LiveView(session)
    events = bus.subscribe(maxsize=4096)
    result = await session.run()
    bus.close()
    async for event in events:
        view.update(event)
    assert result.status == "completed"
    assert (result.device_safe, result.stop) == (False, "asked_of_person")
    assert result.stop_text == "stop asked of the person, not confirmed by a device"
    screen = io.StringIO()
    Console(file=screen, width=80, color_system=None).print(view.render())
    assert "stop asked of the person, not confirmed by a device" in screen.getvalue()
    assert "device confirmed" not in screen.getvalue()


def test_the_log_says_the_stop_was_asked_and_the_run_still_succeeds(cli_here: Cli, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    result = cli_here(
        "run",
        "upper-back-massage-gun",
        "--device",
        "manual://massage-gun?speeds=5",
        "--yes",
        "--speed",
        "1000",
        "--events",
        str(events),
    )
    assert result.code == 0, result.err
    assert "> stop asked of the person, not confirmed by a device." in result.out
    assert result.out.rstrip().endswith("Switch the massager off now.")
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert (lines[0]["model"], lines[-1]["stop"]) == ("manual-massage-gun", "asked_of_person")


def test_a_generic_kind_is_built_with_its_speeds_and_heat() -> None:
    gun = manual_profile("manual://massage-gun?speeds=7", CATALOG)
    assert (gun.id, gun.intensity.max_level, gun.heat, gun.set_by_person) == (
        "manual-massage-gun",
        7,
        None,
        True,
    )
    assert {h.change for h in gun.heads} == {"manual"}
    cushion = manual_profile("manual://cushion?levels=3&heat=2", CATALOG)
    assert cushion.intensity.max_level == 3
    assert cushion.heat is not None
    assert cushion.heat.levels == ["off", "low", "high"]
    assert manual_profile("manual://cushion?heat=0", CATALOG).heat is None
    assert (
        manual_profile("manual://pulse-gun-p5", CATALOG).id == "pulse-gun-p5"
    )  # a catalog model still works
    for bad, why in [
        ("manual://massage-gun?speeds=0", "speeds must be a whole number from 1 to 100"),
        ("manual://massage-gun?speeds=five", "speeds must be a whole number"),
        ("manual://massage-gun?colour=red", "unknown option 'colour'"),
        ("manual://pulse-gun-p5?speeds=3", "options go with a generic kind only"),
    ]:
        with pytest.raises(ConfigError, match=why):
            manual_profile(bad, CATALOG)


def test_a_cushion_with_heat_levels_runs_its_heat_routine(cli_here: Cli) -> None:
    result = cli_here(
        "run",
        "lower-back-heat-cushion",
        "--device",
        "manual://cushion?levels=3&heat=2",
        "--yes",
        "--speed",
        "1000",
    )
    assert result.code == 0, result.err
    assert "waiting for you: Switch the heat to low, then confirm." in result.out


def test_routines_check_and_simulate_take_a_manual_device(cli_here: Cli) -> None:
    checked = cli_here(
        "routines", "check", "lower-back-heat-cushion", "--device", "manual://cushion?heat=2", "--json"
    )
    assert checked.code == 0, checked.err
    plan = json.loads(checked.out)
    assert plan["ok"] is True
    simulated = cli_here(
        "simulate", "upper-back-massage-gun", "--device", "manual://massage-gun?speeds=5", "--json"
    )
    assert simulated.code == 0, simulated.err
    timeline = json.loads(simulated.out)
    assert (timeline["model"], timeline["status"]) == ("manual-massage-gun", "completed")
    heat = cli_here(
        "simulate", "lower-back-heat-cushion", "--device", "manual://shiatsu-cushion-s3", "--json"
    )
    assert heat.code == 0, heat.err
    too_slow = cli_here(
        "routines", "check", "upper-back-massage-gun", "--device", "manual://massage-gun?speeds=1"
    )
    assert too_slow.code == 2
