"""A change the device acked but never reported leaves the state stale (unknown), never a stale "motor off".

The device is the real simulator with the ``lose_status`` fault: it applies and acks every command,
but its status frames (after the ack, in answer to a request, of its own) are lost for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.drivers import DeviceState, DriverOptions, MassagerDriver
from massager_ctl.errors import CommandTimeoutError
from tests.drivers.driver_support import sim_device

MODELS = ["serial-cushion-z3", "shiatsu-cushion-s3"]  # one per protocol family


@contextlib.asynccontextmanager
async def published(device: MassagerDriver) -> AsyncIterator[list[DeviceState]]:
    """Every state the driver publishes while the block runs."""
    seen: list[DeviceState] = []

    async def follow() -> None:
        async for state in device.states():
            seen.append(state)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)  # subscribed before the block starts
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.looptime
@pytest.mark.parametrize("model", MODELS)
async def test_an_acked_change_without_its_status_is_stale_until_the_device_reports(
    catalog: Catalog, model: str
) -> None:
    url = f"sim://{model}?link=virtual&faults=lose_status_at=2,lose_status_s=8"
    async with sim_device(url, catalog=catalog) as (device, sim):
        firmware = sim.firmware
        assert not device.state.stale
        assert (device.state.motor, device.state.intensity) == (False, 0)
        async with published(device) as seen:
            await asyncio.sleep(2.5)  # status frames are lost from t=2 to t=10
            state = await device.set_intensity(3)
            assert (firmware.state.motor, firmware.state.intensity) == (True, 3)  # the motor runs
            # what the driver says is either what the device reported since, or flagged as unknown
            assert (state.motor, state.intensity) == (True, 3) or state.stale
            assert state.stale
            assert not state.safe
            assert device.state == state
            assert seen == [state]  # subscribers hear that the state is unknown
            assert (state.motor, state.intensity) == (False, 0)  # the last report, flagged
            # the status requests keep failing while the loss lasts: the state stays unknown
            await asyncio.sleep(9.5 - firmware.state.t)
            assert firmware.state.motor  # fed by the keepalive, the device still runs
            assert device.state.stale
            assert len(seen) == 1
            # the loss ends at t=10; the keepalive's next status request brings the report
            await asyncio.sleep(4.0)
            assert not device.state.stale
            assert (device.state.motor, device.state.intensity) == (True, 3)
            assert [(s.stale, s.motor, s.intensity) for s in seen] == [(True, False, 0), (False, True, 3)]
            assert device.state.connected


@pytest.mark.looptime
async def test_a_stop_whose_status_is_lost_is_not_confirmed(catalog: Catalog) -> None:
    url = "sim://shiatsu-cushion-s3?link=virtual&faults=lose_status_at=2,lose_status_s=30"
    async with sim_device(url, catalog=catalog) as (device, sim):
        await asyncio.sleep(2.5)
        await device.set_intensity(2)
        # the device did stop (it acked), but the driver cannot see that: no false confirmation
        with pytest.raises(CommandTimeoutError, match="stop was not confirmed"):
            await device.stop()
        assert sim.firmware.state.intensity == 0
        assert device.state.stale
        assert not device.state.safe


async def test_stale_over_a_real_pty_until_the_next_report(catalog: Catalog) -> None:
    # status frames are lost from t=0.3 to t=1.3; the setting's status requests take 3 x 0.15 s
    url = "sim://serial-cushion-z3?link=pty&faults=lose_status_at=0.3,lose_status_s=1"
    options = DriverOptions(ack_timeout_s=0.15, retries=1)
    async with sim_device(url, catalog=catalog, options=options) as (device, sim):
        firmware = sim.firmware
        device.keepalive = False  # the commands below are the only traffic
        await asyncio.sleep(0.35 - firmware.state.t)  # into the fault's window (real-time clocks here)
        state = await device.set_intensity(4)
        assert firmware.state.t < 1.3  # still inside the window
        assert firmware.state.intensity == 4
        assert state.stale
        assert (state.motor, state.intensity) == (False, 0)
        await asyncio.sleep(1.35 - firmware.state.t)  # the loss is over
        state = await device.refresh()
        assert not state.stale
        assert (state.motor, state.intensity) == (True, 4)
