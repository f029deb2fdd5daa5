"""The session engine over the real simulator, in virtual time (looptime)."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from pathlib import Path

import pytest

from massager_ctl.config import Caps
from massager_ctl.journal import Journal
from massager_ctl.orchestrator import ControlError, Session, SessionState, preflight
from massager_ctl.orchestrator.person import AutoPerson, HandsOnPerson
from massager_ctl.retry import Backoff
from tests.orchestrator.orch_support import CATALOG, Rig, at, make_plan
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY


async def test_30_minute_routine_step_starts_are_exact() -> None:
    routine = CATALOG.routine("full-session-30-cushion")
    plan = preflight(routine, CATALOG.device("serial-cushion-z3"), Caps())
    assert plan.duration_s == 1800
    async with Rig(plan, session_options={"person": AutoPerson()}) as rig:
        result = await rig.run()
    assert result.status == "completed"
    assert result.device_safe
    started = rig.of("step_started")
    assert [e.index for e in started] == list(range(len(plan.steps)))
    for event, step in zip(started, plan.steps, strict=True):
        assert event.session_t == pytest.approx(step.planned_start_s, abs=1e-6)
        assert event.planned_start_s == step.planned_start_s
    finished = rig.of("session_finished")[0]
    assert finished.session_t == pytest.approx(1800.0, abs=1e-6)
    assert rig.of("session_started")[0].routine_id == "full-session-30-cushion"
    # the device followed the plan: heat low during the warm-up, upper zone kneading at level 5 later
    warm = next(s for s in plan.steps if s.title.startswith("Knead the left"))
    state = rig.firmware_at(warm.end_s - 1)
    assert state.heat_name == "low"
    firmer = next(s for s in plan.steps if s.title == "Upper zone, firmer")
    state = rig.firmware_at(firmer.end_s - 1)
    assert (state.head, state.intensity, state.mode, state.heat) == ("upper", 5, "kneading", 0)
    end = rig.firmware.state
    assert not end.motor
    assert end.heat == 0


async def test_pause_keeps_the_remaining_time() -> None:
    plan = make_plan(
        [
            {"title": f"Step {i}", "duration": 60, "device": {"head": "upper", "intensity": 4}}
            for i in range(3)
        ],
        "serial-cushion-z3",
    )
    async with Rig(plan) as rig:
        pauser = asyncio.create_task(at(30, rig, rig.session.pause))
        resumer = asyncio.create_task(at(100, rig, rig.session.resume))
        result = await rig.run()
        await asyncio.gather(pauser, resumer)
    assert result.status == "completed"
    paused, resumed = rig.of("paused")[0], rig.of("resumed")[0]
    assert paused.session_t == pytest.approx(30, abs=1e-3)
    assert paused.remaining_s == pytest.approx(30, abs=1e-3)
    assert resumed.remaining_s == pytest.approx(30, abs=1e-3)
    starts = [e.session_t for e in rig.of("step_started")]
    assert starts == pytest.approx([0, 130, 190], abs=1e-3)
    assert rig.of("session_finished")[0].session_t == pytest.approx(250, abs=1e-3)
    assert result.active_s == pytest.approx(180, abs=0.01)
    # held while paused, running again after
    assert rig.firmware_at(60).intensity == 0
    assert not rig.firmware_at(99).motor
    assert rig.firmware_at(120).intensity == 4


async def test_manual_head_change_holds_the_motor_and_waits_for_the_head() -> None:
    plan = make_plan(
        [
            {"title": "Ball", "duration": 30, "device": {"head": "ball", "intensity": 3}},
            {"title": "Fork", "duration": 30, "device": {"head": "fork", "intensity": 2}},
            {
                "title": "Fork again",
                "duration": 20,
                "device": {"head": "fork", "intensity": 3},
                "confirm": True,
            },
        ],
        "pulse-gun-p5",
    )
    async with Rig(plan) as rig:
        swap = asyncio.create_task(at(45, rig, lambda: rig.firmware.fit_head("fork")))
        confirm = asyncio.create_task(at(90, rig, rig.session.confirm))
        result = await rig.run()
        await asyncio.gather(swap, confirm)
    assert result.status == "completed"
    waits = rig.of("waiting_for_confirm")
    assert [(w.index, w.reason, w.head) for w in waits] == [(1, "head_change", "fork"), (2, "confirm", None)]
    assert "Fork" in waits[0].prompt
    confirmed = rig.of("confirmed")
    assert [(c.index, c.by) for c in confirmed] == [(1, "device"), (2, "user")]
    assert confirmed[0].session_t == pytest.approx(45, abs=1e-3)
    # the motor was held at 0 while the person swapped heads
    during = rig.firmware_between(30.5, 44.9)
    assert during
    assert all(s.intensity == 0 for s in during)
    # step 2's time starts when the head is on: 45 + 30 = 75, then the confirm wait until 90
    finished = rig.of("step_finished")
    assert finished[1].session_t == pytest.approx(75, abs=1e-3)
    assert rig.of("session_finished")[0].session_t == pytest.approx(110, abs=1e-3)
    assert rig.firmware_at(60).head == "fork"
    assert rig.firmware_at(60).intensity == 2


async def test_motorized_head_change_is_a_command() -> None:
    plan = make_plan(
        [
            {"title": "Upper", "duration": 30, "device": {"head": "zone-upper", "intensity": 3}},
            {"title": "Lower", "duration": 30, "device": {"head": "zone-lower", "intensity": 3}},
        ],
        "serial-cushion-z3",
    )
    async with Rig(plan) as rig:
        result = await rig.run()
    assert result.status == "completed"
    assert not rig.of("waiting_for_confirm")
    assert rig.firmware_at(29).head == "upper"
    assert rig.firmware_at(59).head == "lower"
    assert rig.of("step_started")[1].session_t == pytest.approx(30, abs=1e-6)


async def test_intensity_ramps_one_level_at_a_time() -> None:
    plan = make_plan(
        [
            {"title": "Ramp up", "duration": 30, "device": {"intensity": 8, "ramp": "8s"}},
            {"title": "Ease off", "duration": 10, "device": {"intensity": 2, "ramp": "3s"}},
        ],
        "serial-cushion-z3",
    )
    async with Rig(plan) as rig:
        result = await rig.run()
    assert result.status == "completed"
    levels = [s.intensity for _, s in rig.firmware_log]
    changes = [b for a, b in itertools.pairwise(levels) if a != b]
    ramp_up = changes[: changes.index(8) + 1]
    assert ramp_up == [1, 2, 3, 4, 5, 6, 7, 8]
    assert changes[changes.index(8) + 1 : changes.index(2, changes.index(8)) + 1] == [7, 6, 5, 4, 3, 2]
    # one level per second: level 4 at 3 s, level 8 at 7 s (8 levels over 8 s, the first at once)
    assert rig.firmware_at(3.01).intensity == 4
    assert rig.firmware_at(2.99).intensity == 3
    assert rig.firmware_at(7.01).intensity == 8


async def test_engine_enforces_the_heat_budget_beyond_what_the_firmware_allows() -> None:
    # the Z3 allows 20 min of heat; the routine plans 10 min, and the engine keeps to that when extended
    plan = make_plan(
        [
            {"title": "Heat", "duration": 600, "device": {"heat": "low", "intensity": 2}},
            {"title": "Cool", "duration": 300, "device": {"heat": "off", "intensity": 2}},
        ],
        "serial-cushion-z3",
    )
    assert plan.heat_budget_s == 600
    async with Rig(plan) as rig:
        extender = asyncio.create_task(at(500, rig, lambda: rig.session.extend(300)))
        result = await rig.run()
        await extender
    assert result.status == "completed"
    assert rig.firmware_at(590).heat == 1
    cut = rig.firmware_at(620)
    assert cut.heat == 0
    assert not cut.heat_auto_off  # the engine cut it, not the firmware
    assert rig.firmware_at(890).motor  # the step itself went on for its extended time
    notices = [n.message for n in rig.of("notice")]
    assert any("heat" in m and "budget" in m for m in notices)
    assert rig.of("step_started")[1].session_t == pytest.approx(900, abs=1e-3)


async def test_user_caps_apply_to_levels_and_nudges() -> None:
    caps = Caps(max_intensity=0.5)
    plan = make_plan(
        [{"title": "Half", "duration": 60, "device": {"intensity": 0.5}}], "serial-cushion-z3", caps=caps
    )
    assert plan.steps[0].level == 5
    async with Rig(plan) as rig:
        errors: list[str] = []

        def nudges() -> None:
            try:
                rig.session.nudge(+1)
            except ControlError as e:
                errors.append(str(e))
            assert rig.session.nudge(-2) == 3

        task = asyncio.create_task(at(20, rig, nudges))
        result = await rig.run()
        await task
    assert result.status == "completed"
    assert errors
    assert "cap" in errors[0]
    assert max(s.intensity for _, s in rig.firmware_log) == 5
    assert rig.firmware_at(40).intensity == 3
    nudged = rig.of("intensity_nudged")[0]
    assert (nudged.level, nudged.offset) == (3, -2)


async def test_cancel_leaves_the_device_safe_and_reraises() -> None:
    plan = make_plan(
        [{"title": "Warm", "duration": 600, "device": {"head": "lower", "heat": "high", "intensity": 6}}],
        "serial-cushion-z3",
    )
    async with Rig(plan) as rig:
        task = asyncio.create_task(rig.run())
        await at(100, rig, lambda: None)
        assert rig.firmware.state.motor
        assert rig.firmware.state.heat == 2
        task.cancel("interrupted by a test")
        with pytest.raises(asyncio.CancelledError):
            await task
    state = rig.firmware.state
    assert not state.motor
    assert state.intensity == 0
    assert state.heat == 0
    finished = rig.of("session_finished")[0]
    assert (finished.status, finished.reason) == ("stopped", "interrupted by a test")
    assert rig.session.state is SessionState.STOPPED
    assert rig.of("step_finished")[0].outcome == "stopped"


async def test_device_error_fails_the_session_with_the_device_safe() -> None:
    plan = make_plan(
        [
            {
                "title": "Upper with heat",
                "duration": 60,
                "device": {"head": "upper", "heat": "low", "intensity": 5},
            },
            {"title": "Lower", "duration": 60, "device": {"head": "lower"}},
        ],
        "serial-cushion-z3",
    )
    async with Rig(plan, faults="refuse_head=lower") as rig:
        result = await rig.run()
    assert result.status == "failed"
    assert "refused" in result.reason.lower()
    assert result.device_safe
    assert not rig.firmware.state.motor
    assert rig.firmware.state.heat == 0


async def test_unexpected_exception_makes_the_device_safe_then_propagates() -> None:
    plan = make_plan(
        [
            {"title": "Ball", "duration": 30, "device": {"head": "ball", "intensity": 4}},
            {"title": "Fork", "duration": 30, "device": {"head": "fork", "intensity": 2}},
        ],
        "pulse-gun-p5",
    )

    def broken_person(head: str) -> None:
        raise RuntimeError(f"cannot fit {head}")

    async with Rig(plan, session_options={"person": HandsOnPerson(broken_person)}) as rig:
        with pytest.raises(RuntimeError, match="cannot fit fork"):
            await rig.run()
    state = rig.firmware.state
    assert (state.motor, state.intensity, state.heat) == (False, 0, 0)
    assert rig.session.result is not None
    assert rig.session.result.device_safe
    finished = rig.of("session_finished")
    assert [f.status for f in finished] == ["failed"]
    assert "cannot fit fork" in finished[0].reason


async def test_link_drop_mid_step_resumes_the_same_step_with_its_remaining_time() -> None:
    plan = make_plan(
        [
            {"title": "First", "duration": 60, "device": {"head": "upper", "intensity": 4, "heat": "low"}},
            {"title": "Second", "duration": 60, "device": {"head": "lower", "intensity": 3}},
        ],
        "serial-cushion-z3",
    )
    async with Rig(plan, faults="drop_link_at=40,reconnect_after=3") as rig:
        result = await rig.run()
    assert result.status == "completed", result.reason
    suspended, reconnected = rig.of("suspended")[0], rig.of("reconnected")[0]
    assert suspended.index == reconnected.index == 0
    outage = reconnected.session_t - suspended.session_t
    assert outage >= 3 - 1e-6
    assert suspended.remaining_s == reconnected.remaining_s
    # the drop is noticed within a moment of firmware time 40 (the firmware started just before the session)
    assert 60 - suspended.session_t == pytest.approx(suspended.remaining_s, abs=1e-3)
    assert suspended.remaining_s == pytest.approx(20, abs=1.0)
    first_end = rig.of("step_finished")[0].session_t
    assert first_end == pytest.approx(reconnected.session_t + suspended.remaining_s, abs=1e-3)
    assert [e.index for e in rig.of("step_started")] == [0, 1]
    # settings were re-applied after the reconnect, heat within its budget
    after = rig.firmware_at(first_end - 1)
    assert (after.head, after.intensity, after.heat) == ("upper", 4, 1)
    assert result.device_safe


async def test_stop_control_ends_the_session_safely() -> None:
    plan = make_plan([{"title": "Long", "duration": 600, "device": {"intensity": 5}}], "serial-cushion-z3")
    async with Rig(plan) as rig:
        stopper = asyncio.create_task(at(42, rig, rig.session.stop))
        result = await rig.run()
        await stopper
        with pytest.raises(ControlError):
            rig.session.pause()
    assert (result.status, result.reason) == ("stopped", "stopped by the user")
    assert rig.of("session_finished")[0].session_t == pytest.approx(42, abs=1e-3)
    assert rig.firmware.state.intensity == 0


async def test_skip_and_extend() -> None:
    plan = make_plan(
        [{"title": f"S{i}", "duration": 60, "device": {"intensity": 2}} for i in range(3)],
        "serial-cushion-z3",
    )
    async with Rig(plan) as rig:
        t1 = asyncio.create_task(at(10, rig, rig.session.skip))
        t2 = asyncio.create_task(at(20, rig, lambda: rig.session.extend(15)))
        result = await rig.run()
        await asyncio.gather(t1, t2)
    assert result.status == "completed"
    assert [e.session_t for e in rig.of("step_started")] == pytest.approx([0, 10, 85], abs=1e-3)
    assert [e.outcome for e in rig.of("step_finished")] == ["skipped", "completed", "completed"]
    assert rig.of("step_extended")[0].remaining_s == pytest.approx(65, abs=1e-3)


async def test_controls_refuse_in_the_wrong_state() -> None:
    plan = make_plan([{"title": "Only", "duration": 10, "device": {"intensity": 2}}], "serial-cushion-z3")
    async with Rig(plan) as rig:
        with pytest.raises(ControlError, match="cannot resume"):
            rig.session.resume()
        with pytest.raises(ControlError, match="cannot confirm"):
            rig.session.confirm()
        result = await rig.run()
    assert result.status == "completed"
    with pytest.raises(ControlError, match="already completed"):
        rig.session.stop()


async def test_a_subscriber_that_never_reads_does_not_delay_the_timeline() -> None:
    routine = CATALOG.routine("full-session-30-cushion")
    plan = preflight(routine, CATALOG.device("serial-cushion-z3"), Caps())
    async with Rig(plan, session_options={"person": AutoPerson()}) as rig:
        stuck = rig.bus.subscribe(maxsize=8, name="never reads")
        result = await rig.run()
    assert result.status == "completed"
    for event, step in zip(rig.of("step_started"), plan.steps, strict=True):
        assert event.session_t == pytest.approx(step.planned_start_s, abs=1e-6)
    assert len(stuck) <= 8 + 1  # its size, plus the drop report
    assert stuck.dropped > 0
    kept = []
    while (event := stuck.get_nowait()) is not None:
        kept.append(event)
    assert kept[0].type == "session_started"
    assert kept[-1].type == "events_dropped"
    assert kept[-1].count == stuck.dropped  # type: ignore[attr-defined]


async def test_session_refuses_a_device_of_another_model() -> None:
    plan = make_plan([{"title": "Only", "duration": 10, "device": {"intensity": 2}}], "serial-cushion-z3")
    async with Rig(plan) as rig:
        other = Rig(make_plan([{"title": "x", "duration": 5, "device": {"intensity": 1}}], "pulse-gun-p5"))
        async with other:
            session = Session(plan, connect=other.connector.connect, device_url="sim://pulse-gun-p5")
            result = await session.run()
    assert result.status == "failed"
    assert "pulse-gun-p5" in result.reason
    assert rig.session.state is SessionState.IDLE


async def test_past_the_retry_budget_the_session_aborts() -> None:
    plan = make_plan(
        [{"title": "Warm", "duration": 120, "device": {"head": "lower", "intensity": 4, "heat": "low"}}],
        "serial-cushion-z3",
    )
    policy = Backoff(attempts=3, initial_s=0.5, max_s=2.0)
    async with Rig(
        plan, faults="drop_link_at=30,reconnect_after=600", session_options={"reconnect": policy}
    ) as rig:
        result = await rig.run()
    assert result.status == "aborted"
    assert "no reconnect after 3 attempts" in result.reason
    assert not result.device_safe  # nobody could tell it to stop: the device's watchdog did
    finished = rig.of("session_finished")[0]
    assert finished.session_t == pytest.approx(rig.of("suspended")[0].session_t + 0.5 + 1 + 2, abs=0.5)
    state = rig.firmware.state
    assert (state.intensity, state.heat, state.watchdog_tripped) == (0, 0, True)
    attempts = [n.message for n in rig.of("notice") if "reconnect attempt" in n.message]
    assert len(attempts) == 3


async def test_journal_writes_the_session_as_it_happens(tmp_path: Path) -> None:
    plan = make_plan(
        [{"title": f"S{i}", "duration": 60, "device": {"intensity": 2}} for i in range(3)],
        "serial-cushion-z3",
    )
    path = tmp_path / "journal.sqlite3"
    seen: list[tuple[str, int]] = []

    def peek() -> None:
        with sqlite3.connect(path) as db:
            status = db.execute("SELECT status FROM sessions").fetchone()[0]
            count = db.execute("SELECT count(*) FROM events WHERE type = 'step_started'").fetchone()[0]
        seen.append((status, count))

    with Journal(path) as journal:
        async with Rig(plan) as rig:
            # recorded as a real session's: the weekly count below is of real massage only
            follower = asyncio.create_task(journal.follow(rig.bus.subscribe(name="journal"), kind="real"))
            peeker = asyncio.create_task(at(90, rig, peek))
            result = await rig.run()
            await peeker
            rig.bus.close()
            await follower
        assert seen == [("running", 2)]
        row = journal.sessions()[0]
        assert (row.status, row.steps_done) == ("completed", 3)
        assert row.elapsed_s == pytest.approx(180)
        kinds = [e["type"] for e in journal.events(result.session_id)]
        assert kinds[0] == "session_started"
        assert kinds[-1] == "session_finished"
        assert "progress" not in kinds
    # a session left 'running' by a process that is gone is marked interrupted at the next start
    with sqlite3.connect(path) as db:
        db.execute("UPDATE sessions SET status = 'running', pid = ?", (dead_pid(),))
    with Journal(path) as journal:
        row = journal.sessions()[0]
        assert row.status == "interrupted"
        assert journal.weekly()[0].sessions == 1


def dead_pid() -> int:
    # Linux hands out pids below pid_max, so no process has this one (and none is started to find it)
    return int(Path("/proc/sys/kernel/pid_max").read_text())
