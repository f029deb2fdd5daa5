"""How a link opens: "stop" before the hello, and no keepalive until the owner asks for it."""

from __future__ import annotations

import asyncio

import pytest

from firmware_sim import SimulatedDevice
from firmware_sim.link import VirtualLink
from massager_ctl.catalog import Catalog
from massager_ctl.drivers import DriverOptions
from massager_ctl.drivers.massager import MassagerDriver
from massager_ctl.protocol import GetStatus, Hello, Ping, Stop
from massager_ctl.transports.virtual import VirtualTransport
from tests.drivers.driver_support import FirmwareTap

pytestmark = pytest.mark.looptime


@pytest.mark.parametrize("model", ["serial-cushion-z3", "shiatsu-cushion-s3"])
async def test_a_link_that_takes_over_says_stop_first_and_feeds_no_watchdog_yet(
    model: str, catalog: Catalog
) -> None:
    profile = catalog.device(model)
    options = DriverOptions(stop_on_open=True, keepalive_on_open=False)
    async with SimulatedDevice(profile) as device:
        firmware = device.firmware
        tap = FirmwareTap(firmware)
        async with MassagerDriver(profile, VirtualTransport(VirtualLink(firmware)), options=options) as lost:
            await lost.set_intensity(2)
            assert firmware.state.intensity == 2
            tap.commands.clear()
            # a new link takes over the running device
            link = VirtualTransport(VirtualLink(firmware))
            async with MassagerDriver(profile, link, options=options) as driver:
                assert [type(c) for c in tap.commands] == [Stop, Hello, GetStatus]
                assert driver.state.safe
                assert firmware.state.intensity == 0
                assert not driver.keepalive
                await asyncio.sleep(10)
                assert tap.count(Ping) == 0
                driver.keepalive = True
                await asyncio.sleep(3)
                assert tap.count(Ping) >= 2
