"""Coalescing, the stop lane, retries and timeouts, link loss: over real links, counted at the firmware."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.connect import open_device
from massager_ctl.drivers import DeviceState, DriverOptions
from massager_ctl.errors import CommandTimeoutError, LinkLostError
from massager_ctl.protocol import Ping, SetIntensity, Stop
from tests.drivers.driver_support import ALL_LINKS, REAL_LINKS, FirmwareTap, links, sim_device

FAST = DriverOptions(ack_timeout_s=0.15, keepalive_s=0.2)


@pytest.mark.parametrize("case", links(REAL_LINKS))
async def test_rapid_intensity_changes_coalesce_and_the_last_one_wins(
    case: tuple[str, str], catalog: Catalog
) -> None:
    model, link = case
    async with sim_device(f"sim://{model}?link={link}", catalog=catalog) as (device, sim):
        tap = FirmwareTap(sim.firmware)
        top = device.profile.intensity.max_level
        values = [1 + i % top for i in range(100)]
        calls = []
        loop = asyncio.get_running_loop()  # the clock the driver's gap is kept on, virtual or real
        started = loop.time()
        for value in values:  # 100 changes, 3 ms apart (longer on a loaded machine, in real time)
            calls.append(asyncio.create_task(device.set_intensity(value)))
            await asyncio.sleep(0.003)
        span = loop.time() - started
        assert device.desired.intensity == values[-1]
        results = await asyncio.gather(*calls)

        sent = tap.of(SetIntensity)
        gap = device.profile.protocol.min_command_gap_s
        # at most one frame per gap while the changes came in (however long that really took),
        # then the last value; a frame already in flight may add one more
        allowed = span / gap + 3
        assert 1 <= len(sent) <= allowed, f"{len(sent)} frames for 100 changes over {span:.3f} s"
        assert sent[-1] == SetIntensity(level=values[-1], seq=sent[-1].seq)
        assert sim.firmware.state.intensity == values[-1]
        assert results[-1].intensity == values[-1]
        assert device.state.intensity == values[-1]


@pytest.mark.parametrize("case", links(REAL_LINKS))
async def test_stop_jumps_1000_queued_changes_and_is_confirmed_within_a_few_round_trips(
    case: tuple[str, str], catalog: Catalog
) -> None:
    model, link = case
    async with sim_device(f"sim://{model}?link={link}", catalog=catalog) as (device, sim):
        firmware = sim.firmware
        tap = FirmwareTap(firmware)
        await device.set_intensity(1)

        queued = [asyncio.create_task(device.set_intensity(2 + i % 2)) for i in range(1000)]
        await asyncio.sleep(0)  # every change is now queued behind the minimum gap
        before = len(tap.commands)
        state = await device.stop()
        during = [c for c in tap.commands[before:] if not isinstance(c, Ping)]  # keepalives may interleave

        assert state.safe
        assert device.state.safe
        assert not firmware.state.motor
        assert firmware.state.intensity == 0
        assert firmware.state.heat == 0
        # one stop frame on the wire, ahead of the queue: between the call and the confirmed stop the
        # device got the stop and nothing queued (how long that takes: bench/wall_clock.py)
        assert tap.count(Stop) == 1
        assert [type(c) for c in during] == [Stop], during
        # the queued changes were cleared: none reached the device, and their callers see the stopped state
        results = await asyncio.gather(*queued)
        assert all(r.safe for r in results)
        await asyncio.sleep(device.profile.protocol.min_command_gap_s * 3)
        assert [c for c in tap.of(SetIntensity) if c.level > 1] == []
        assert firmware.state.intensity == 0


@pytest.mark.looptime
async def test_stop_skips_the_gap_after_a_setting(catalog: Catalog) -> None:
    # in virtual time: the stop's confirmation takes no loop time unless the driver waits out the gap
    loop = asyncio.get_running_loop()
    async with open_device("sim://shiatsu-cushion-s3?link=virtual", catalog=catalog) as device:
        await device.set_intensity(2)
        started = loop.time()
        await device.stop()
        assert loop.time() - started < device.profile.protocol.min_command_gap_s / 2


@pytest.mark.parametrize("case", links(REAL_LINKS))
async def test_unacked_command_is_retried_then_times_out(case: tuple[str, str], catalog: Catalog) -> None:
    model, link = case
    url = f"sim://{model}?link={link}&faults=ack_delay_s=5"
    # no ack ever comes: on a pty or TCP every wait, the stop on close included (3 x 3 attempts), is
    # a whole ack timeout of real time
    options = DriverOptions(ack_timeout_s=0.1, keepalive_s=0.2)
    async with sim_device(url, catalog=catalog, options=options) as (device, sim):
        tap = FirmwareTap(sim.firmware)
        device.keepalive = False
        with pytest.raises(CommandTimeoutError, match="set_intensity after 3 attempts"):
            await device.set_intensity(2)
        sent = tap.of(SetIntensity)
        assert len(sent) == 1 + device.profile.protocol.retries
        assert len(set(sent)) == 1, "a retry resends the very same frame (same seq)"


@pytest.mark.parametrize("case", links(REAL_LINKS))
async def test_a_late_ack_is_caught_by_the_retry(case: tuple[str, str], catalog: Catalog) -> None:
    model, link = case
    url = f"sim://{model}?link={link}&faults=ack_delay_s=0.2"
    async with sim_device(url, catalog=catalog, options=FAST) as (device, sim):
        tap = FirmwareTap(sim.firmware)
        device.keepalive = False
        state = await device.set_intensity(2)
        assert state.intensity == 2 == sim.firmware.state.intensity
        assert tap.count(SetIntensity) == 2


async def test_a_stalled_device_times_out_and_the_keepalive_declares_the_link_lost(catalog: Catalog) -> None:
    # nothing answers once the device stalls: every wait below is a whole ack timeout of real time
    options = DriverOptions(ack_timeout_s=0.1, keepalive_s=0.1)
    async with open_device(
        "sim://serial-cushion-z3?link=pty&faults=stall_at=0.5,stall_s=30", catalog=catalog, options=options
    ) as device:
        ended = asyncio.Event()

        async def watch() -> None:
            async for _ in device.states():
                pass
            ended.set()

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.6)
        with pytest.raises((CommandTimeoutError, LinkLostError)):
            await device.set_intensity(3)
        await asyncio.wait_for(ended.wait(), 3)
        await watcher
        with pytest.raises(LinkLostError, match="stopped answering"):
            await device.set_intensity(1)


@pytest.mark.parametrize("case", links([c for c in ALL_LINKS if c[1] != "pty"]))
async def test_link_drop_surfaces_as_link_lost(case: tuple[str, str], catalog: Catalog) -> None:
    model, link = case
    url = f"sim://{model}?link={link}&faults=drop_link_at=0.8"
    async with open_device(url, catalog=catalog, options=FAST) as device:
        streamed: list[DeviceState] = []

        async def watch() -> None:
            async for state in device.states():
                streamed.append(state)

        watcher = asyncio.create_task(watch())

        async def command_until_the_drop() -> None:
            for _ in range(200):  # keep commanding until the drop hits one in flight
                await device.set_intensity(1 + len(streamed) % 2)
                await asyncio.sleep(0.02)

        with pytest.raises(LinkLostError):
            await command_until_the_drop()
        await asyncio.wait_for(watcher, 2)  # states() ended
        assert not device.state.connected
        with pytest.raises(LinkLostError):
            await device.set_intensity(1)
        with pytest.raises(LinkLostError):
            await device.stop()


@pytest.mark.looptime
async def test_keepalive_feeds_the_watchdog_and_can_be_turned_off(catalog: Catalog) -> None:
    async with sim_device(
        "sim://pulse-gun-p5?link=virtual&speed=4", catalog=catalog, options=DriverOptions(keepalive_s=0.1)
    ) as (device, sim):
        firmware = sim.firmware
        tap = FirmwareTap(firmware)
        await device.set_intensity(3)
        await asyncio.sleep(0.7)  # 2.8 firmware seconds: past the 2 s watchdog without pings
        assert tap.count(Ping) >= 4
        assert firmware.state.intensity == 3
        assert not firmware.state.watchdog_tripped
        device.keepalive = False
        await asyncio.sleep(0.8)
        assert firmware.state.watchdog_tripped
        assert firmware.state.intensity == 0
        assert device.state.watchdog_tripped
        assert "watchdog_tripped" in device.state.flags
        assert device.state.safe
