"""Damaged frames, virtual time, and cancellation: the driver keeps its footing and the device ends safe."""

from __future__ import annotations

import asyncio
import logging

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.drivers import DriverOptions
from massager_ctl.errors import CommandTimeoutError
from massager_ctl.protocol import Ping, SetIntensity
from tests.drivers.driver_support import FirmwareTap, sim_device
from tests.virtual_time import IN_MEMORY


@pytest.mark.looptime
@pytest.mark.parametrize("model", ["serial-cushion-z3", "pulse-gun-p5"])
async def test_corrupted_frames_are_dropped_and_commands_still_complete(
    model: str, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sim://{model}?link=virtual&faults=corrupt_frame_p=0.15&seed=7"
    options = DriverOptions(ack_timeout_s=0.05, retries=6, min_command_gap_s=0.0)
    caplog.set_level(logging.INFO, logger="massager_ctl.drivers")
    async with sim_device(url, catalog=catalog, options=options) as (device, sim):
        device.keepalive = False
        top = device.profile.intensity.max_level
        completed = 0
        for i in range(40):
            try:
                state = await device.set_intensity(1 + i % top)
            except CommandTimeoutError:
                continue
            completed += 1
            assert state.intensity == sim.firmware.state.intensity
        assert completed >= 35
        # damaged frames in both directions were seen and survived: the reader is still running
        assert "dropped a bad frame" in caplog.text or "arrived damaged" in caplog.text
        await device.refresh()


@IN_MEMORY
async def test_an_hour_in_virtual_time_keeps_the_watchdog_fed(catalog: Catalog) -> None:
    async with sim_device("sim://shiatsu-cushion-s3?link=virtual", catalog=catalog) as (device, sim):
        firmware = sim.firmware
        tap = FirmwareTap(firmware)
        await device.set_intensity(2)
        await device.set_heat(1)
        await asyncio.sleep(600)
        assert firmware.state.intensity == 2
        assert not firmware.state.watchdog_tripped
        # heat switched itself off after max_on_s (900 s of heat, the firmware's own timer)? not yet
        assert firmware.state.heat == 1
        assert 590 <= tap.count(Ping) <= 601
        await asyncio.sleep(400)
        assert firmware.state.heat == 0
        assert device.state.heat_auto_off
        assert device.state.heat == 0
        assert device.state.flags == ("heat_auto_off",)


@pytest.mark.looptime
async def test_a_cancelled_caller_does_not_leave_the_device_running(catalog: Catalog) -> None:
    async with sim_device(
        "sim://pulse-gun-p5?link=virtual&faults=ack_delay_s=0.3", catalog=catalog
    ) as (device, sim):
        firmware = sim.firmware
        task = asyncio.create_task(device.set_intensity(4))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # leaving the block stopped the device, confirmed, even though a command was cut short
    assert firmware.state.intensity == 0
    assert not firmware.state.motor


async def test_stop_from_many_callers_sends_one_stop_lane(catalog: Catalog) -> None:
    async with sim_device("sim://serial-cushion-z3?link=pty", catalog=catalog) as (device, sim):
        await device.set_intensity(3)
        tap = FirmwareTap(sim.firmware)
        results = await asyncio.gather(*(device.stop() for _ in range(5)))
        assert all(r.safe for r in results)
        assert tap.count(SetIntensity) == 0
        assert len([c for c in tap.commands if c.name == "stop"]) == 1
