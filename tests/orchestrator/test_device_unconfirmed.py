"""A session whose device acks a change but cannot report it shows the state as unknown, never "motor off"."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from massager_ctl.events import DeviceStateEvent
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.ui.lines import LineFormatter
from massager_ctl.ui.live import LiveView
from tests.orchestrator.orch_support import Rig, make_plan
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY


async def test_the_session_events_and_log_lines_mark_an_unreported_change_unconfirmed() -> None:
    plan = make_plan(
        [
            {"title": "Settle", "duration": 10, "device": {"head": "upper", "intensity": 0}},
            {"title": "Upper zone", "duration": 30, "device": {"head": "upper", "intensity": 3}},
        ],
        "serial-cushion-z3",
    )
    # status frames are lost from just before the motor starts until well into the second step
    faults = "lose_status_at=8,lose_status_s=12"
    states: list[DeviceStateEvent] = []

    async def follow(rig: Rig) -> None:
        # read as they come: device states waiting unread are coalesced (latest wins)
        async for event in rig.subscription:
            if isinstance(event, DeviceStateEvent):
                states.append(event)

    async with Rig(plan, faults=faults, session_options={"person": AutoPerson()}) as rig:
        reader = asyncio.create_task(follow(rig))
        result = await rig.run()
        await asyncio.sleep(0)
        reader.cancel()
    assert result.status == "completed"
    assert result.device_safe
    t0 = rig.session.t0
    motor_on = next(t for t, s in rig.firmware_log if s.motor) - t0
    assert 10 <= motor_on < 11
    # what a display shows mid-step (the latest event), while the motor runs and no status gets through
    shown = [e for e in states if e.session_t <= 15][-1]
    assert rig.firmware_at(15).motor
    assert shown.stale or shown.motor, f"shows motor off while it runs: {shown}"
    while_running = [e for e in states if motor_on <= e.session_t < 40]
    # from the moment the motor runs, the device state is either reported as running or unknown
    assert all(e.stale or e.motor for e in while_running), [(e.session_t, e.stale, e.motor) for e in states]
    stale = [e for e in while_running if e.stale]
    assert stale, "the unreported change was never flagged"
    assert stale[0].session_t < 12  # flagged once the status after the ack is overdue, not seconds later
    reported = [e for e in while_running if not e.stale]
    assert reported
    assert reported[0].session_t >= 20  # the device reported again once the loss ended (t=20)
    assert (reported[-1].motor, reported[-1].intensity) == (True, 3)
    # the log line says "unknown", never the last report's "intensity 0"
    formatter = LineFormatter()
    lines = [formatter.format(e) for e in states]
    unconfirmed = [line for line, e in zip(lines, states, strict=True) if e.stale and line]
    assert unconfirmed
    assert all("intensity ?" in line and "(unconfirmed" in line for line in unconfirmed)
    assert not any("intensity 0" in line for line in unconfirmed)
    # and the live view's device line, drawn while the last event is the stale one
    view = LiveView(rig.session)
    view.update(stale[0])
    screen = io.StringIO()
    Console(file=screen, width=120, color_system=None).print(view.render())
    assert "device: head ?, intensity ?, heat ? (unconfirmed" in screen.getvalue()
    view.update(reported[-1])
    screen = io.StringIO()
    Console(file=screen, width=120, color_system=None).print(view.render())
    assert "device: head upper · intensity 3/10" in screen.getvalue()
