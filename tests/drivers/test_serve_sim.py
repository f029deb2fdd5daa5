"""``serve_sim``: one simulator for a ``sim://`` URL, and fresh links to the same firmware."""

from __future__ import annotations

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.connect import serve_sim
from massager_ctl.errors import ConfigError
from massager_ctl.urls import parse_device_url
from tests.drivers.driver_support import ALL_LINKS, link_id


@pytest.mark.parametrize("case", ALL_LINKS, ids=link_id)
async def test_each_new_driver_reaches_the_same_running_firmware(
    case: tuple[str, str], catalog: Catalog
) -> None:
    model, link = case
    url = parse_device_url(f"sim://{model}?link={link}&speed=2")
    async with serve_sim(url, catalog=catalog) as served:
        firmware = served.simulator.firmware
        assert served.options.keepalive_s == served.profile.watchdog.keepalive_s / 2
        async with served.new_driver() as first:
            await first.set_intensity(2)
            assert firmware.state.intensity == 2
        assert firmware.state.intensity == 0  # closing the first link stopped the device
        async with served.new_driver() as second:
            assert second.simulator is served.simulator
            assert second.identity.serial == firmware.serial
            await second.set_intensity(1)
            assert firmware.state.intensity == 1


async def test_a_link_that_does_not_fit_the_model_is_refused_before_anything_starts(catalog: Catalog) -> None:
    with pytest.raises(ConfigError, match="link=ble serves BLE models"):
        async with serve_sim(parse_device_url("sim://serial-cushion-z3?link=ble"), catalog=catalog):
            pass
