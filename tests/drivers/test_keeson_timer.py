"""A session arms a Keeson base's own massage timer, so a dead controller still leaves it stopping.

The timer key steps 10 -> 20 -> 30 min -> off; the session presses it to the shortest value that
covers what is left of the routine, read back from the status. Then the controller is killed (the
base hears nothing more, the session task is cancelled) and the simulator must stop by its own timer
within the bound the session set. Virtual time (looptime) on the Bumble radio.
"""

from __future__ import annotations

import asyncio

import pytest

from firmware_sim.families import ProductFirmware
from firmware_sim.opener import ServedProduct
from massager_ctl.catalog import Catalog
from massager_ctl.events import EventBus, Notice
from massager_ctl.orchestrator import Plan, Session
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson
from tests.drivers.test_keeson_driver import keeson
from tests.orchestrator.orch_support import CATALOG, make_plan
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY

TIMER_STEP = bytes.fromhex("e5fe160002000004")
URL = "sim://keeson-base-i4"


def bed_plan(minutes: int) -> Plan:
    return make_plan(
        [
            {"title": "Back massage", "duration": 60, "device": {"head": "zone-upper", "intensity": 0.5}},
            {"title": "Easing", "duration": (minutes - 1) * 60, "device": {"intensity": 0.2}},
        ],
        "keeson-base-i4",
    )


async def run_then_kill(
    connector: DeviceConnector, minutes: int, kill_at_s: float
) -> tuple[ProductFirmware, float, list[str]]:
    """Run a ``minutes`` routine and kill the controller at ``kill_at_s``.

    Returns the firmware, the loop time of the kill and the notices the session gave.
    """
    source = connector.source
    assert isinstance(source, ServedProduct)
    firmware = source.firmware
    bus = EventBus()
    notices = bus.subscribe(maxsize=100_000, name="test")
    session = Session(
        bed_plan(minutes), connect=connector.connect, device_url=URL, bus=bus, person=AutoPerson()
    )
    task = asyncio.create_task(session.run())
    await asyncio.sleep(kill_at_s)
    # the controller dies: nothing it sends reaches the base any more, and its task is gone
    firmware.lose_incoming()
    killed_at = asyncio.get_running_loop().time()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    firmware.disconnect()  # and its radio link is gone with it
    messages = []
    while (event := notices.get_nowait()) is not None:
        if isinstance(event, Notice):
            messages.append(event.message)
    return firmware, killed_at, messages


@pytest.mark.parametrize(("minutes", "bound_min", "presses"), [(15, 20, 1), (6, 10, 0)])
async def test_a_killed_controller_leaves_the_base_stopping_by_the_timer_the_session_set(
    minutes: int, bound_min: int, presses: int
) -> None:
    async with DeviceConnector(URL, catalog=CATALOG) as connector:
        firmware, killed_at, notices = await run_then_kill(connector, minutes, kill_at_s=90)
        assert firmware.state.massage_on  # latched: the base runs on without its controller
        assert firmware.state.timer_min == bound_min  # the shortest timer covering the routine
        assert list(firmware.received).count(TIMER_STEP) == presses
        assert any(f"device timer set to {bound_min} min" in n for n in notices)
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        firmware.subscribe(lambda state: None if state.massage_on else stopped.set())
        await asyncio.wait_for(stopped.wait(), timeout=bound_min * 60 + 5)
        # by its own timer, within the bound set (it was set before the kill)
        assert loop.time() - killed_at <= bound_min * 60
        assert not firmware.state.massage_on


async def test_the_timer_steps_up_to_cover_and_never_through_off(catalog: Catalog) -> None:
    async with keeson(catalog) as (device, firmware):
        assert await device.arm_timer(600) is None  # nothing runs: the base's timer runs only with massage
        await device.set_intensity(2)
        assert firmware.state.timer_min == 10  # the base's own choice when massage starts
        assert await device.arm_timer(25 * 60) == 30 * 60
        assert firmware.state.timer_min == 30
        assert list(firmware.received).count(TIMER_STEP) == 2
        # shorter is not reachable without passing "off", which ends the massage: it stays at 30
        assert await device.arm_timer(5 * 60) == 30 * 60
        assert list(firmware.received).count(TIMER_STEP) == 2
        assert firmware.state.massage_on
