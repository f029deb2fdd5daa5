"""The firmware's clocks under virtual time: watchdog, heat auto-off, temperature curve, battery, speed."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

import pytest

from firmware_sim import FaultSpec, SimulatedDevice, VirtualLink, mascii, mbin
from firmware_sim.messages import Command, Ping, SetHeat, SetIntensity, Stop
from firmware_sim.physics import (
    AMBIENT_C,
    COOL_TAU_S,
    DRAIN_PCT_PER_S,
    HEAT_TAU_S,
    MOTOR_WARMING_C,
    Battery,
    Thermal,
)
from massager_ctl.catalog import Catalog
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY


def frames(link: VirtualLink) -> list[mbin.Reply]:
    out = []
    while (frame := link.recv_nowait()) is not None:
        out.append(mbin.decode_reply(frame))
    return out


def unsolicited(replies: list[mbin.Reply]) -> list[mbin.Status]:
    return [r for r in replies if isinstance(r, mbin.Status) and r.seq == 0]


async def send(link: VirtualLink, seq: int, command: Command) -> list[mbin.Reply]:
    await link.send(mbin.encode_command(seq, command))
    return frames(link)


@contextlib.asynccontextmanager
async def keepalive(link: VirtualLink, period: float) -> AsyncIterator[None]:
    """Ping like a healthy controller until the block ends."""

    async def run() -> None:
        seq = 0
        while True:
            seq = seq % 255 + 1
            await link.send(mbin.encode_command(seq, Ping()))
            await asyncio.sleep(period)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_watchdog_stops_motor_and_heat_after_timeout() -> None:
    loop = asyncio.get_running_loop()
    async with SimulatedDevice(Catalog().device("shiatsu-cushion-s3")) as device:
        link = device.virtual_link()
        await send(link, 1, SetIntensity(2))
        await send(link, 2, SetHeat(1))
        started = loop.time()
        await asyncio.sleep(2.9)
        assert device.firmware.state.motor
        assert frames(link) == []
        await asyncio.sleep(0.2)
        state = device.firmware.state
        assert (state.motor, state.intensity, state.heat, state.watchdog_tripped) == (False, 0, 0, True)
        [report] = unsolicited(frames(link))
        assert (report.motor, report.heat_on, report.intensity, report.heat, report.watchdog_tripped) == (
            False,
            False,
            0,
            0,
            True,
        )
        assert loop.time() - started == pytest.approx(3.1)
        # the next valid setting command clears the flag
        [ack, after] = await send(link, 3, SetIntensity(1))
        assert ack == mbin.Ack(3, "set_intensity")
        assert isinstance(after, mbin.Status)
        assert (after.watchdog_tripped, after.intensity) == (False, 1)


async def test_keepalive_holds_the_watchdog_off_and_bad_frames_do_not() -> None:
    async with SimulatedDevice(Catalog().device("shiatsu-cushion-s3")) as device:
        link = device.virtual_link()
        await send(link, 1, SetIntensity(3))
        async with keepalive(link, 1.0):
            await asyncio.sleep(30)
        assert device.firmware.state.motor
        frames(link)
        # a stream of damaged frames keeps the link busy but does not feed the watchdog
        for _ in range(4):
            await link.send(bytes.fromhex("a5 07 10 01 03 1b"))
            await asyncio.sleep(0.9)
        state = device.firmware.state
        assert state.watchdog_tripped
        assert not state.motor


async def test_idle_device_has_nothing_to_stop() -> None:
    async with SimulatedDevice(Catalog().device("pulse-gun-p5")) as device:
        link = device.virtual_link()
        await send(link, 1, Ping())
        await asyncio.sleep(10)
        assert not device.firmware.state.watchdog_tripped
        assert unsolicited(frames(link)) == []


async def test_watchdog_trips_on_a_dropped_link() -> None:
    async with SimulatedDevice(Catalog().device("serial-cushion-z3")) as device:
        link = device.virtual_link()
        await link.send(mascii.encode_command(SetIntensity(5)) + mascii.encode_command(SetHeat(2)))
        await link.aclose()
        await asyncio.sleep(2.9)
        assert device.firmware.state.motor
        await asyncio.sleep(0.2)
        state = device.firmware.state
        assert (state.motor, state.heat, state.watchdog_tripped, state.connected) == (False, 0, True, False)


async def test_heat_auto_off_after_max_on_s_of_continuous_heat() -> None:
    loop = asyncio.get_running_loop()
    async with SimulatedDevice(Catalog().device("shiatsu-cushion-s3")) as device:
        link = device.virtual_link()
        async with keepalive(link, 1.0):
            await send(link, 1, SetHeat(1))
            heat_on = loop.time()
            await asyncio.sleep(600)
            await send(link, 2, SetHeat(2))  # a level change is still continuous heat
            await asyncio.sleep(899 - (loop.time() - heat_on))
            assert device.firmware.state.heat == 2
            frames(link)
            await asyncio.sleep(2)
            state = device.firmware.state
            assert (state.heat, state.heat_auto_off, state.watchdog_tripped) == (0, True, False)
            [report] = unsolicited(frames(link))
            assert (report.heat_on, report.heat, report.heat_auto_off) == (False, 0, True)
            [_, status] = await send(link, 3, SetHeat(1))
            assert isinstance(status, mbin.Status)
            assert (status.heat, status.heat_auto_off) == (1, False)


async def test_heat_off_resets_the_auto_off_timer() -> None:
    async with SimulatedDevice(Catalog().device("serial-cushion-z3")) as device:
        link = device.virtual_link()

        async def feed() -> None:
            while True:
                await link.send(mascii.encode_command(Ping()))
                await asyncio.sleep(1)

        feeder = asyncio.create_task(feed())
        await link.send(mascii.encode_command(SetHeat(1)))
        await asyncio.sleep(1000)
        await link.send(mascii.encode_command(SetHeat(0)))
        await link.send(mascii.encode_command(SetHeat(1)))
        await asyncio.sleep(1000)  # 2000 s of heat in all, but never 1200 s in one go
        assert device.firmware.state.heat == 1
        await asyncio.sleep(201)
        assert (device.firmware.state.heat, device.firmware.state.heat_auto_off) == (0, True)
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder


async def test_temperature_follows_a_first_order_curve() -> None:
    profile = Catalog().device("shiatsu-cushion-s3")
    assert profile.heat is not None
    target = profile.heat.target_c[1]
    async with SimulatedDevice(profile) as device:
        link = device.virtual_link()
        async with keepalive(link, 1.0):
            await send(link, 1, SetHeat(1))
            await asyncio.sleep(HEAT_TAU_S)
            expected = target + (AMBIENT_C - target) * math.exp(-1)
            assert device.firmware.state.temperature_c == pytest.approx(expected, abs=0.3)
            await asyncio.sleep(5 * HEAT_TAU_S)
            hot = device.firmware.state.temperature_c
            assert hot == pytest.approx(target, abs=0.2)
            [reply] = [r for r in await send(link, 2, Stop()) if isinstance(r, mbin.Status)]
            assert reply.temperature_c == round(hot)
            await asyncio.sleep(COOL_TAU_S)
            cooled = AMBIENT_C + (hot - AMBIENT_C) * math.exp(-1)
            assert device.firmware.state.temperature_c == pytest.approx(cooled, abs=0.3)
            assert not device.firmware.state.overheat


async def test_battery_drains_with_intensity_flags_low_and_shuts_down() -> None:
    async with SimulatedDevice(Catalog().device("pulse-gun-p5")) as device:
        link = device.virtual_link()
        async with keepalive(link, 0.5):
            await send(link, 1, SetIntensity(5))
            await asyncio.sleep(600)
            drained = 600 * DRAIN_PCT_PER_S
            assert device.firmware.state.battery == math.ceil(100 - drained)
            await send(link, 2, SetIntensity(1))
            await asyncio.sleep(600)
            assert device.firmware.state.battery == math.ceil(100 - drained - drained / 5)
            device.firmware.set_battery(16.0)
            await send(link, 3, SetIntensity(5))
            frames(link)
            await asyncio.sleep(1.0 / DRAIN_PCT_PER_S + 2)
            assert device.firmware.state.low_battery
            [low] = unsolicited(frames(link))
            assert (low.low_battery, low.battery, low.motor) == (True, 15, True)
            await asyncio.sleep(15.0 / DRAIN_PCT_PER_S + 2)
            state = device.firmware.state
            assert (state.battery, state.motor, state.powered) == (0, False, False)
            [empty] = unsolicited(frames(link))
            assert (empty.battery, empty.motor, empty.intensity) == (0, False, 0)
            [nak] = await send(link, 4, SetIntensity(1))
            assert nak == mbin.Nak(4, 0x10, "battery_empty")


async def test_battery_does_not_drain_at_rest_and_starts_low_with_the_fault() -> None:
    async with SimulatedDevice(
        Catalog().device("pulse-gun-p5"), faults=FaultSpec(low_battery=True)
    ) as device:
        await asyncio.sleep(3600)
        state = device.firmware.state
        assert (state.battery, state.low_battery) == (14, True)


@pytest.mark.parametrize("speed", [1.0, 10.0, 60.0])
async def test_speed_compresses_every_firmware_clock(speed: float) -> None:
    loop = asyncio.get_running_loop()
    async with SimulatedDevice(Catalog().device("shiatsu-cushion-s3"), speed=speed) as device:
        link = device.virtual_link()
        start = loop.time()
        await send(link, 1, SetHeat(1))
        while device.firmware.state.heat:
            await link.send(mbin.encode_command(2, Ping()))
            await asyncio.sleep(0.25 / speed)
        assert loop.time() - start == pytest.approx(900 / speed, abs=0.3 / speed)
        assert device.firmware.state.t == pytest.approx(900, abs=0.3)
        assert device.firmware.state.temperature_c == pytest.approx(
            40 - 15 * math.exp(-900 / HEAT_TAU_S), abs=0.2
        )
        stopped = asyncio.Event()
        device.firmware.subscribe(lambda state: None if state.motor else stopped.set())
        await send(link, 3, SetIntensity(1))
        stopped.clear()
        start = loop.time()
        await stopped.wait()
        assert loop.time() - start == pytest.approx(3.0 / speed, abs=0.02 / speed)


def test_motor_housing_warms_with_intensity_and_battery_reports_rounded_up() -> None:
    housing = Thermal((), max_level=5)
    housing.advance(10_000, heat=0, intensity=5)
    assert housing.temperature == pytest.approx(AMBIENT_C + MOTOR_WARMING_C)
    housing.advance(10_000, heat=0, intensity=0)
    assert housing.temperature == pytest.approx(AMBIENT_C)
    battery = Battery(15.2, max_level=5)
    assert (battery.pct, battery.low, battery.empty) == (16, False, False)
    battery.drain(0.3 / DRAIN_PCT_PER_S, intensity=5)
    assert (battery.pct, battery.low) == (15, True)
    battery.drain(1e9, intensity=1)
    assert (battery.charge, battery.pct, battery.empty) == (0.0, 0, True)
