"""``sim://`` through the registry: one simulator per URL, fresh links to the same firmware."""

from __future__ import annotations

import asyncio

import pytest

from firmware_sim.opener import ServedSim
from massager_ctl.catalog import Catalog
from massager_ctl.connect import new_driver, open_source
from massager_ctl.errors import ConfigError
from massager_ctl.registry import OpenContext
from massager_ctl.urls import parse_device_url
from tests.drivers.driver_support import ALL_LINKS, link_id


@pytest.mark.parametrize("case", ALL_LINKS, ids=link_id)
async def test_each_new_driver_reaches_the_same_running_firmware(
    case: tuple[str, str], catalog: Catalog
) -> None:
    model, link = case
    url = parse_device_url(f"sim://{model}?link={link}&speed=2")
    async with open_source(url, OpenContext(catalog=catalog)) as served:
        assert isinstance(served, ServedSim)  # the simulator's own source, found through the registry
        firmware = served.simulator.firmware
        async with new_driver(served, speed=2) as first:
            await first.set_intensity(2)
            assert firmware.state.intensity == 2
        assert firmware.state.intensity == 0  # closing the first link stopped the device
        async with new_driver(served, speed=2) as second:
            assert second.identity.serial == firmware.serial
            await second.set_intensity(1)
            assert firmware.state.intensity == 1


async def test_a_link_that_does_not_fit_the_model_is_refused_before_anything_starts(catalog: Catalog) -> None:
    url = parse_device_url("sim://serial-cushion-z3?link=ble")
    with pytest.raises(ConfigError, match="link=ble serves BLE models"):
        async with open_source(url, OpenContext(catalog=catalog)):
            pass


@pytest.mark.looptime
@pytest.mark.parametrize("speed", [1.0, 20.0])
async def test_a_driver_feeds_the_watchdog_of_a_fast_simulator_as_often_as_it_needs(
    speed: float, catalog: Catalog
) -> None:
    # at 20x the firmware's 3 s watchdog trips after 0.15 s: the keepalive must come 20x as often
    url = parse_device_url(f"sim://serial-cushion-z3?link=virtual&speed={speed}")
    async with open_source(url, OpenContext(catalog=catalog)) as served:
        assert isinstance(served, ServedSim)
        firmware = served.simulator.firmware
        async with new_driver(served, speed=speed) as device:
            await device.set_intensity(3)
            await asyncio.sleep(60 / speed)  # a minute of the firmware's time
            assert firmware.state.intensity == 3
            assert device.state.intensity == 3
