"""Each injected fault, its parsing, and reproducibility from a seed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from firmware_sim import FaultSpec, SimulatedDevice, VirtualLink, mascii, mbin
from firmware_sim.messages import FrameError, GetStatus, Ping, SetHead, SetHeat, SetIntensity
from massager_ctl.catalog import Catalog
from massager_ctl.errors import ConfigError
from tests.virtual_time import IN_MEMORY

SHIATSU = "shiatsu-cushion-s3"


def replies(link: VirtualLink) -> list[bytes]:
    out = []
    while (frame := link.recv_nowait()) is not None:
        out.append(frame)
    return out


@contextlib.asynccontextmanager
async def keepalive(link: VirtualLink, period: float = 0.5) -> AsyncIterator[None]:
    async def run() -> None:
        seq = 0
        while link.connected:
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


def test_parse_the_documented_spec() -> None:
    spec = FaultSpec.parse(
        "drop_link_at=5,drop_link_after=3,reconnect_after=2,drop_link_p=0.01,drop_frame_p=0.1,corrupt_frame_p=0.05,"
        "delay_frame_s=0.2,ack_delay_s=0.3,stall_at=4,stall_s=3,lose_status_at=7,lose_status_s=2,low_battery=1,"
        "refuse_head=fork,overheat_at=60"
    )
    assert spec == FaultSpec(
        drop_link_at=5,
        drop_link_after=3,
        reconnect_after=2,
        drop_link_p=0.01,
        drop_frame_p=0.1,
        corrupt_frame_p=0.05,
        delay_frame_s=0.2,
        ack_delay_s=0.3,
        stall_at=4,
        stall_s=3,
        lose_status_at=7,
        lose_status_s=2,
        low_battery=True,
        refuse_head="fork",
        overheat_at=60,
    )
    assert spec.start_battery == 14
    assert FaultSpec.parse(" ") == FaultSpec()
    assert FaultSpec.parse("battery=40,low_battery=1").start_battery == 40


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus=1", "unknown fault 'bogus'; known faults: drop_link_at"),
        ("drop_frame_p", "must be key=value"),
        ("drop_frame_p=", "must be key=value"),
        ("drop_frame_p=lots", "must be a number"),
        ("drop_frame_p=1.5", "must be a probability"),
        ("stall_s=-1", "must not be negative"),
        ("low_battery=maybe", "must be 1 or 0"),
        ("battery=120", "percentage"),
    ],
)
def test_parse_rejects_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FaultSpec.parse(spec)


@IN_MEMORY
async def test_drop_link_at_and_reconnect_after() -> None:
    loop = asyncio.get_running_loop()
    faults = FaultSpec(drop_link_at=5, reconnect_after=4)
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=faults) as device:
        drops: list[float] = []
        restores: list[float] = []
        device.firmware.on_link_drop(lambda: drops.append(loop.time()))
        device.firmware.on_link_restore(lambda: restores.append(loop.time()))
        link = device.virtual_link()
        await link.send(mbin.encode_command(1, SetIntensity(2)))
        replies(link)

        async def read_until_reset() -> None:
            while True:
                await link.recv()

        async with keepalive(link):
            with pytest.raises(ConnectionResetError, match="dropped"):
                await read_until_reset()
        assert loop.time() == pytest.approx(5.0, abs=0.01)
        assert not link.connected
        assert not device.firmware.state.connected
        with pytest.raises(ConnectionRefusedError):
            device.virtual_link()
        await asyncio.sleep(3.5)  # the link stays down past the 3 s watchdog
        assert device.firmware.state.watchdog_tripped
        assert not device.firmware.state.motor
        await asyncio.sleep(1)
        again = device.virtual_link()
        await again.send(mbin.encode_command(2, GetStatus()))
        [status] = [mbin.decode_reply(f) for f in replies(again)]
        assert isinstance(status, mbin.Status)
        assert (status.seq, status.watchdog_tripped, status.motor) == (2, True, False)
        assert drops == [pytest.approx(5.0)]
        assert restores == [pytest.approx(9.0)]


@IN_MEMORY
async def test_drop_link_after_counts_from_the_controllers_first_bytes() -> None:
    loop = asyncio.get_running_loop()
    faults = FaultSpec(drop_link_after=3, reconnect_after=1)
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=faults) as device:
        drops: list[float] = []
        device.firmware.on_link_drop(lambda: drops.append(loop.time()))
        link = device.virtual_link()
        await asyncio.sleep(10)  # a controller slow to start: connected, but silent so far
        assert drops == []
        assert link.connected
        await link.send(mbin.encode_command(1, Ping()))
        spoke = loop.time()

        async def read_until_reset() -> None:
            while True:
                await link.recv()

        async with keepalive(link):
            with pytest.raises(ConnectionResetError, match="dropped"):
                await read_until_reset()
        assert drops == [pytest.approx(spoke + 3.0)]
        await asyncio.sleep(1.5)
        again = device.virtual_link()  # later links and frames do not schedule another drop
        async with keepalive(again):
            await asyncio.sleep(10)
        assert again.connected
        assert drops == [pytest.approx(spoke + 3.0)]


async def _drop_times(seed: int) -> list[float]:
    loop = asyncio.get_running_loop()
    faults = FaultSpec(drop_link_p=0.2, reconnect_after=1)
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=faults, seed=seed) as device:
        start = loop.time()
        drops: list[float] = []
        device.firmware.on_link_drop(lambda: drops.append(round(loop.time() - start, 3)))

        def reconnect() -> None:
            device.virtual_link()

        device.firmware.on_link_restore(reconnect)
        device.virtual_link()
        await asyncio.sleep(60)
        return drops


@IN_MEMORY
async def test_random_link_drops_are_reproducible_from_the_seed() -> None:
    first = await _drop_times(seed=3)
    assert 3 <= len(first) <= 25  # about 0.2 per second while up
    assert await _drop_times(seed=3) == first
    assert await _drop_times(seed=4) != first


async def _noisy_exchange(seed: int, model: str) -> list[bytes]:
    faults = FaultSpec(drop_frame_p=0.3, corrupt_frame_p=0.3)
    async with SimulatedDevice(Catalog().device(model), faults=faults, seed=seed) as device:
        link = device.virtual_link()
        out: list[bytes] = []
        for i in range(1, 60):
            if model == "serial-cushion-z3":
                await link.send(mascii.encode_command(SetIntensity(i % 10)))
            else:
                await link.send(mbin.encode_command(i, SetIntensity(i % 3)))
            out.extend(replies(link))
        return out


@pytest.mark.parametrize("model", [SHIATSU, "serial-cushion-z3"])
async def test_frame_faults_are_reproducible_from_the_seed(model: str) -> None:
    first = await _noisy_exchange(7, model)
    assert await _noisy_exchange(7, model) == first
    assert await _noisy_exchange(8, model) != first
    decode = mascii.decode_reply if model == "serial-cushion-z3" else mbin.decode_reply
    broken = 0
    for frame in first:
        try:
            decode(frame)
        except FrameError:
            broken += 1
    assert 0 < broken < len(first)
    assert len(first) < 2 * 59  # some commands or replies were lost


@pytest.mark.parametrize("model", [SHIATSU, "serial-cushion-z3"])
async def test_every_frame_corrupted_changes_nothing(model: str) -> None:
    async with SimulatedDevice(
        Catalog().device(model), faults=FaultSpec(corrupt_frame_p=1.0), seed=1
    ) as device:
        link = device.virtual_link()
        decode = mascii.decode_reply if model == "serial-cushion-z3" else mbin.decode_reply
        for i in range(1, 40):
            if model == "serial-cushion-z3":
                await link.send(mascii.encode_command(SetIntensity(3)))
            else:
                await link.send(mbin.encode_command(i, SetIntensity(3)))
            [reply] = replies(link)  # the device answers the damage with an error, itself damaged
            with pytest.raises(FrameError):
                decode(reply)
        assert device.firmware.state.intensity == 0


async def test_every_frame_dropped_means_silence() -> None:
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=FaultSpec(drop_frame_p=1.0)) as device:
        link = device.virtual_link()
        for i in range(1, 20):
            await link.send(mbin.encode_command(i, SetIntensity(1)))
        assert replies(link) == []
        assert device.firmware.state.intensity == 0


@IN_MEMORY
async def test_delayed_frames_and_acks_keep_their_order() -> None:
    loop = asyncio.get_running_loop()
    faults = FaultSpec(delay_frame_s=0.2, ack_delay_s=0.3)
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=faults) as device:
        link = device.virtual_link()
        sent = loop.time()
        await link.send(mbin.encode_command(1, SetIntensity(1)))
        assert replies(link) == []
        ack = mbin.decode_reply(await link.recv())
        assert ack == mbin.Ack(1, "set_intensity")
        assert loop.time() - sent == pytest.approx(0.5)
        status = mbin.decode_reply(await link.recv())
        assert isinstance(status, mbin.Status)
        assert loop.time() - sent == pytest.approx(0.5)  # queued behind the ack
        sent = loop.time()
        await link.send(mbin.encode_command(2, GetStatus()))
        assert isinstance(mbin.decode_reply(await link.recv()), mbin.Status)
        assert loop.time() - sent == pytest.approx(0.2)


@IN_MEMORY
async def test_delays_scale_with_speed() -> None:
    loop = asyncio.get_running_loop()
    faults = FaultSpec(ack_delay_s=0.3)
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=faults, speed=10) as device:
        link = device.virtual_link()
        sent = loop.time()
        await link.send(mbin.encode_command(1, Ping()))
        assert mbin.decode_reply(await link.recv()) == mbin.Ack(1, "ping")
        assert loop.time() - sent == pytest.approx(0.03)


@IN_MEMORY
async def test_stall_ignores_frames_then_reports() -> None:
    loop = asyncio.get_running_loop()
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=FaultSpec(stall_at=4, stall_s=5)) as device:
        link = device.virtual_link()
        await link.send(mbin.encode_command(1, SetIntensity(2)))
        replies(link)
        async with keepalive(link):
            await asyncio.sleep(3.9)
            assert len(replies(link)) >= 7  # pings answered
            await asyncio.sleep(1.0)
            assert replies(link) == []  # stalled: pings go unanswered and do not feed the watchdog
            await asyncio.sleep(3.0)
            assert device.firmware.state.watchdog_tripped  # the hardware timer still works
            assert not device.firmware.state.motor
            await asyncio.sleep(1.5)  # stall over at t=9
            frames = [mbin.decode_reply(f) for f in replies(link)]
            assert isinstance(frames[0], mbin.Status)
            assert (frames[0].seq, frames[0].watchdog_tripped) == (0, True)
            assert any(isinstance(f, mbin.Ack) for f in frames)
        assert loop.time() == pytest.approx(9.4, abs=0.1)


@IN_MEMORY
async def test_lose_status_loses_every_status_frame_but_acks_still_arrive() -> None:
    faults = FaultSpec(lose_status_at=2, lose_status_s=3)
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=faults) as device:
        link = device.virtual_link()
        await link.send(mbin.encode_command(1, SetIntensity(2)))
        assert [type(mbin.decode_reply(f)) for f in replies(link)] == [mbin.Ack, mbin.Status]
        await asyncio.sleep(2.5)  # status frames are lost from t=2 to t=5
        await link.send(mbin.encode_command(2, SetIntensity(3)))
        await link.send(mbin.encode_command(3, GetStatus()))
        await link.send(mbin.encode_command(4, Ping()))
        answers = [mbin.decode_reply(f) for f in replies(link)]
        assert answers == [mbin.Ack(2, "set_intensity"), mbin.Ack(4, "ping")]
        assert device.firmware.state.intensity == 3  # applied, only its report is lost
        await asyncio.sleep(2.7)  # the loss is over, the watchdog (3 s) not yet due
        await link.send(mbin.encode_command(5, GetStatus()))
        (status,) = [mbin.decode_reply(f) for f in replies(link)]
        assert isinstance(status, mbin.Status)
        assert (status.seq, status.intensity) == (5, 3)


@IN_MEMORY
async def test_overheat_protection_cuts_a_runaway_heater() -> None:
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=FaultSpec(overheat_at=10)) as device:
        link = device.virtual_link()
        async with keepalive(link, 1.0):
            await link.send(mbin.encode_command(1, SetHeat(2)))
            await asyncio.sleep(600)
            frames = [mbin.decode_reply(f) for f in replies(link)]
            reports = [f for f in frames if isinstance(f, mbin.Status) and f.seq == 0]
            tripped = [r for r in reports if r.overheat]
            assert tripped
            assert (tripped[0].heat_on, tripped[0].heat) == (False, 0)
            assert tripped[0].temperature_c >= 50  # above the top target (45) + 5
            assert [mbin.decode_reply(f) for f in replies(link)] == []
            # cooling down past the top target clears the flag
            state = device.firmware.state
            assert not state.overheat
            assert state.temperature_c <= 45
            await link.send(mbin.encode_command(2, SetHeat(1)))
            assert mbin.decode_reply(replies(link)[0]) == mbin.Ack(2, "set_heat")


@IN_MEMORY
async def test_heat_is_refused_while_overheated() -> None:
    async with SimulatedDevice(Catalog().device(SHIATSU), faults=FaultSpec(overheat_at=0)) as device:
        link = device.virtual_link()
        overheated = asyncio.Event()
        device.firmware.subscribe(lambda state: overheated.set() if state.overheat else None)
        async with keepalive(link, 1.0):
            await overheated.wait()  # the heater runs away even with heat off
            assert device.firmware.state.heat == 0
            replies(link)
            await link.send(mbin.encode_command(3, SetHeat(1)))
            assert mbin.decode_reply(replies(link)[-1]) == mbin.Nak(3, 0x12, "refused")
            await link.send(mbin.encode_command(4, SetHead(1)))
            assert mbin.decode_reply(replies(link)[0]) == mbin.Ack(4, "set_head")
