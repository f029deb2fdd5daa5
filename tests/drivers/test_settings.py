"""Every setting command on every model, over real links: acked, confirmed, reflected in the firmware."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.connect import open_device
from massager_ctl.drivers import DeviceState
from massager_ctl.errors import ConfigError, DeviceRefusedError, LinkLostError
from tests.drivers.driver_support import ALL_LINKS, links, sim_device


@pytest.mark.parametrize("case", links(ALL_LINKS))
async def test_each_setting_is_acked_and_reflected_in_the_firmware(
    case: tuple[str, str], catalog: Catalog
) -> None:
    model, link = case
    async with sim_device(f"sim://{model}?link={link}", catalog=catalog) as (device, sim):
        firmware = sim.firmware
        profile = device.profile
        assert device.identity.model_code == profile.protocol.model_code
        assert device.identity.serial == firmware.serial
        assert device.state.connected
        assert device.state.safe

        for level in range(profile.intensity.max_level, -1, -1):
            state = await device.set_intensity(level)
            assert state.intensity == level == firmware.state.intensity
            assert state.motor == (level > 0) == firmware.state.motor

        for head in (h for h in profile.heads if h.change == "motorized"):
            state = await device.set_head(head.id)
            assert state.head == head.id == firmware.state.head

        if profile.heat is not None:
            for level in [*range(1, len(profile.heat.levels)), 0]:
                state = await device.set_heat(level)
                assert state.heat == level == firmware.state.heat

        for mode in profile.modes:
            state = await device.set_mode(mode)
            assert state.mode == mode == firmware.state.mode

        for direction in profile.directions:
            state = await device.set_direction(direction)
            assert state.direction == direction == firmware.state.direction

        assert await device.refresh() == device.state
        if profile.battery:
            assert device.state.battery == firmware.state.battery


@pytest.mark.parametrize("case", links(ALL_LINKS))
async def test_intensity_and_heat_are_clamped_to_the_model(case: tuple[str, str], catalog: Catalog) -> None:
    model, link = case
    async with sim_device(f"sim://{model}?link={link}", catalog=catalog) as (device, sim):
        top = device.profile.intensity.max_level
        assert (await device.set_intensity(top + 7)).intensity == top
        assert sim.firmware.state.intensity == top
        assert (await device.set_intensity(-3)).intensity == 0
        if device.profile.heat is not None:
            last = len(device.profile.heat.levels) - 1
            assert (await device.set_heat(99)).heat == last == sim.firmware.state.heat
        else:
            with pytest.raises(DeviceRefusedError) as info:
                await device.set_heat(1)
            assert info.value.code == "not_supported"


@pytest.mark.looptime
async def test_manual_head_and_unknown_names_are_refused_clearly(catalog: Catalog) -> None:
    async with open_device("sim://pulse-gun-p5?link=virtual", catalog=catalog) as device:
        with pytest.raises(DeviceRefusedError, match="changed by hand") as info:
            await device.set_head("fork")
        assert info.value.code == "not_supported"
        with pytest.raises(ConfigError, match="no head 'spoon'"):
            await device.set_head("spoon")
        with pytest.raises(ConfigError, match="no mode 'rolling'"):
            await device.set_mode("rolling")
        with pytest.raises(DeviceRefusedError, match="no direction"):
            await device.set_direction("cw")


@pytest.mark.looptime
async def test_a_device_nak_raises_device_refused_with_its_code(catalog: Catalog) -> None:
    async with sim_device(
        "sim://shiatsu-cushion-s3?link=ble&faults=refuse_head=lower", catalog=catalog
    ) as (device, sim):
        with pytest.raises(DeviceRefusedError) as info:
            await device.set_head("lower")
        assert info.value.code == "refused"
        assert sim.firmware.state.head == "full"
        # the driver is still healthy after a refusal
        assert (await device.set_head("upper")).head == "upper"


async def test_states_stream_reports_each_confirmed_change_and_ends_on_close(catalog: Catalog) -> None:
    seen: list[DeviceState] = []
    async with open_device("sim://serial-cushion-z3?link=pty", catalog=catalog) as device:

        async def watch() -> None:
            async for state in device.states():
                seen.append(state)

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0)
        await device.set_intensity(4)
        await device.set_heat(2)
        await device.stop()
    await asyncio.wait_for(watcher, 2)  # the stream ended when the driver closed
    assert [s.intensity for s in seen][:1] == [4]
    assert any(s.heat == 2 and s.intensity == 4 for s in seen)
    assert seen[-1].safe
    with pytest.raises(LinkLostError):
        await device.set_intensity(1)


async def test_close_stops_the_device_and_is_idempotent(catalog: Catalog) -> None:
    async with sim_device("sim://serial-cushion-z3?link=tcp", catalog=catalog) as (device, sim):
        firmware = sim.firmware
        await device.set_intensity(6)
        await device.set_heat(1)
        assert firmware.state.motor
        assert firmware.state.heat == 1
    assert not firmware.state.motor
    assert firmware.state.intensity == 0
    assert firmware.state.heat == 0
    assert not device.state.connected
    await device.close()
