"""Safety paths of the session engine: waits, crashed helpers, cancels, ramps after a reconnect."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable

import pytest

from massager_ctl.drivers.base import Driver
from massager_ctl.orchestrator import Session, SessionState
from massager_ctl.retry import Backoff
from tests.orchestrator.orch_support import Rig, at, make_plan
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY


def _assert_off(rig: Rig) -> None:
    state = rig.firmware.state
    assert (state.motor, state.intensity, state.heat) == (False, 0, 0)


async def test_heat_goes_off_while_waiting_for_a_confirm_and_stays_off() -> None:
    plan = make_plan(
        [
            {"title": "Warm", "duration": 60, "device": {"head": "lower", "intensity": 3, "heat": "high"}},
            {"title": "Ready?", "duration": 30, "device": {"heat": "off"}, "confirm": True},
        ],
        "serial-cushion-z3",
    )
    async with Rig(plan) as rig:
        task = asyncio.create_task(rig.run())
        await at(57, rig, lambda: None)
        assert rig.firmware.state.heat == 2
        await at(60.5, rig, lambda: None)
        assert rig.session.state is SessionState.WAITING_FOR_CONFIRM
        _assert_off(rig)
        # the idle device is not fed: a hung session leaves it off, not running
        assert rig.session.driver is not None
        assert not rig.session.driver.keepalive
        await at(1500, rig, lambda: None)  # longer than the firmware's own 20-minute heat auto-off
        assert rig.session.state is SessionState.WAITING_FOR_CONFIRM
        assert all(s.heat == 0 and s.intensity == 0 for s in rig.firmware_between(60.5, 1500))
        rig.session.stop()
        result = await task
    assert result.device_safe
    assert not rig.firmware.state.heat_auto_off  # the engine turned it off, not the firmware


async def test_a_steps_heat_comes_back_when_its_time_starts_within_budget() -> None:
    plan = make_plan(
        [
            {"title": "Warm", "duration": 60, "device": {"head": "lower", "intensity": 3, "heat": "high"}},
            {"title": "Warmer", "duration": 60, "device": {"heat": "high"}, "confirm": True},
            {"title": "Cool", "duration": 10, "device": {"heat": "off"}},
        ],
        "serial-cushion-z3",
    )
    async with Rig(plan) as rig:
        confirm = asyncio.create_task(at(300, rig, rig.session.confirm))
        result = await rig.run()
        await confirm
    assert result.status == "completed"
    assert rig.firmware_at(200).heat == 0
    assert rig.firmware_at(301).heat == 2
    assert rig.firmware_at(301).intensity == 3
    assert rig.session.driver is None or not rig.session.driver.keepalive
    # 120 s of heat planned: never more, though heat was on in two stretches
    heat_on = 0.0
    log = [(t - rig.session.t0, s.heat) for t, s in rig.firmware_log]
    for (t1, h1), (t2, _) in itertools.pairwise(log):
        if h1:
            heat_on += t2 - t1
    assert 110 < heat_on <= 120


async def _broken_ticker(report: Callable[[], None], every_s: float) -> None:
    await asyncio.sleep(5)
    raise RuntimeError("progress ticker bug")


async def test_a_crashed_helper_task_fails_the_session_with_the_device_safe() -> None:
    plan = make_plan(
        [{"title": "Warm", "duration": 600, "device": {"head": "lower", "intensity": 6, "heat": "low"}}],
        "serial-cushion-z3",
    )
    async with Rig(plan) as rig:
        rig.session = Session(
            plan, connect=rig.connector.connect, device_url="sim://z3", bus=rig.bus, progress=_broken_ticker
        )
        result = await rig.run()
    assert result.status == "failed"
    assert "progress ticker bug" in result.reason
    assert result.device_safe
    _assert_off(rig)
    finished = rig.of("session_finished")
    assert [f.status for f in finished] == ["failed"]
    assert finished[0].session_t == pytest.approx(5, abs=0.5)


async def test_after_a_reconnect_the_device_is_stopped_then_ramps_up_again_from_off() -> None:
    plan = make_plan(
        [{"title": "Ramp", "duration": 60, "device": {"intensity": 8, "ramp": "16s"}}], "serial-cushion-z3"
    )
    policy = Backoff(attempts=5, initial_s=0.5, max_s=1.0)
    async with Rig(
        plan, faults="drop_link_at=5,reconnect_after=1", session_options={"reconnect": policy}
    ) as rig:
        result = await rig.run()
        # the connector keeps no dead links around (a long-running serve reconnects many times)
        assert [d.state.connected for d, _ in rig.connector._links] == [False]  # closed at the end
    assert result.status == "completed", result.reason
    assert rig.of("reconnected")
    assert rig.connector._links == []
    levels = [s.intensity for _, s in rig.firmware_log]
    changes = [b for a, b in itertools.pairwise(levels) if a != b]
    # the link dropped mid-ramp, 1 s short of the watchdog: the new link's first word stopped the motor
    # (a reconnect revives nothing), then the step ramped up again one level at a time, no jolt
    stopped = changes.index(0)
    assert 1 < stopped < 8
    assert changes[:stopped] == list(range(1, stopped + 1))
    assert changes[stopped + 1 : changes.index(8) + 1] == list(range(1, 9))


async def test_cancel_mid_ramp_leaves_the_device_safe() -> None:
    plan = make_plan(
        [{"title": "Ramp", "duration": 60, "device": {"intensity": 8, "heat": "low", "ramp": "16s"}}],
        "serial-cushion-z3",
    )
    async with Rig(plan) as rig:
        task = asyncio.create_task(rig.run())
        await at(7, rig, lambda: None)
        assert 0 < rig.firmware.state.intensity < 8
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        _assert_off(rig)
    assert rig.session.result is not None
    assert rig.session.result.device_safe


async def test_cancel_during_a_manual_head_change_leaves_the_device_safe() -> None:
    plan = make_plan(
        [
            {"title": "Ball", "duration": 30, "device": {"head": "ball", "intensity": 4}},
            {"title": "Fork", "duration": 30, "device": {"head": "fork", "intensity": 2}},
        ],
        "pulse-gun-p5",
    )
    async with Rig(plan) as rig:
        task = asyncio.create_task(rig.run())
        await at(40, rig, lambda: None)
        assert rig.session.state is SessionState.WAITING_FOR_CONFIRM
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        _assert_off(rig)
    assert rig.session.result is not None
    assert (rig.session.result.status, rig.session.result.device_safe) == ("stopped", True)
    assert rig.of("session_finished")


async def test_cancel_while_suspended_ends_promptly() -> None:
    plan = make_plan(
        [{"title": "Warm", "duration": 120, "device": {"head": "lower", "intensity": 4, "heat": "low"}}],
        "serial-cushion-z3",
    )
    policy = Backoff(attempts=10, initial_s=2.0, max_s=8.0)
    async with Rig(
        plan, faults="drop_link_at=30,reconnect_after=600", session_options={"reconnect": policy}
    ) as rig:
        task = asyncio.create_task(rig.run())
        await at(33, rig, lambda: None)
        assert rig.session.state is SessionState.SUSPENDED
        loop = asyncio.get_running_loop()
        cancelled_at = loop.time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert loop.time() - cancelled_at < 10  # one last connect attempt at most, not the retry budget
    result = rig.session.result
    assert result is not None
    assert result.status == "stopped"
    assert not result.device_safe  # unreachable: its own watchdog stopped it
    state = rig.firmware.state
    assert (state.intensity, state.heat, state.watchdog_tripped) == (0, 0, True)


async def test_a_stop_while_connecting_does_not_wait_for_the_connect() -> None:
    plan = make_plan([{"title": "Only", "duration": 60, "device": {"intensity": 3}}], "serial-cushion-z3")
    async with Rig(plan) as rig:
        loop = asyncio.get_running_loop()

        async def slow_connect() -> Driver:  # a BLE connect that takes its full timeout
            await asyncio.sleep(30)
            return await rig.connector.connect()

        session = Session(plan, connect=slow_connect, device_url="sim://z3", bus=rig.bus)
        started = loop.time()
        loop.call_later(1.0, session.stop)
        result = await session.run()
        assert loop.time() - started == pytest.approx(1.0, abs=0.1)
    assert (result.status, result.reason, result.device_safe) == ("stopped", "stopped by the user", True)
    assert rig.connector._links == []  # the slow connect never opened a link


async def test_a_heat_level_the_session_cannot_name_still_ends_with_the_device_safe() -> None:
    plan = make_plan(
        [{"title": "Warm", "duration": 600, "device": {"head": "lower", "intensity": 4, "heat": "low"}}],
        "serial-cushion-z3",
    )
    heat = plan.profile.heat
    assert heat is not None
    # the session's idea of the model lacks the heat level the device reports: naming it fails
    broken = dataclasses.replace(
        plan, profile=plan.profile.model_copy(update={"heat": heat.model_copy(update={"levels": ["off"]})})
    )
    async with Rig(broken) as rig:
        with pytest.raises(IndexError):
            await rig.run()
        _assert_off(rig)
    assert rig.session.result is not None
    assert rig.session.result.device_safe
    assert [f.status for f in rig.of("session_finished")] == ["failed"]
