"""Frames in → device state and frames out, for every catalog model, through a VirtualLink."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from firmware_sim import FaultSpec, Firmware, SimulatedDevice, VirtualLink, mascii, mbin
from firmware_sim.messages import (
    Command,
    GetStatus,
    Hello,
    Ping,
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    Stop,
)
from massager_ctl.catalog import Catalog
from massager_ctl.models import DeviceProfile

T = TypeVar("T")

GUN = "pulse-gun-p5"
SHIATSU = "shiatsu-cushion-s3"
SERIAL = "serial-cushion-z3"


def profile(model: str) -> DeviceProfile:
    return Catalog().device(model)


def drain(link: VirtualLink, decode: Callable[[bytes], T]) -> list[T]:
    replies = []
    while (frame := link.recv_nowait()) is not None:
        replies.append(decode(frame))
    return replies


async def mb(link: VirtualLink, seq: int, command: Command) -> list[mbin.Reply]:
    await link.send(mbin.encode_command(seq, command))
    return drain(link, mbin.decode_reply)


async def ma(link: VirtualLink, command: Command) -> list[mascii.Reply]:
    await link.send(mascii.encode_command(command))
    return drain(link, mascii.decode_reply)


def line(lead: str, body: str) -> bytes:
    check = 0
    for char in body.encode():
        check ^= char
    return f"{lead}{body}*{check:02X}\r\n".encode()


def status(**fields: Any) -> mbin.Status:
    base: dict[str, Any] = dict(
        seq=0,
        motor=False,
        heat_on=False,
        watchdog_tripped=False,
        low_battery=False,
        overheat=False,
        heat_auto_off=False,
        head=0,
        intensity=0,
        heat=0,
        mode=0,
        direction=0,
        temperature_c=25,
        battery=None,
    )
    return mbin.Status(**{**base, **fields})


def line_status(**fields: Any) -> mascii.Status:
    base: dict[str, Any] = dict(
        motor=False,
        head=2,
        intensity=0,
        heat=0,
        mode=0,
        temperature_c=25.0,
        heat_on=False,
        watchdog_tripped=False,
        low_battery=False,
        overheat=False,
        heat_auto_off=False,
    )
    return mascii.Status(**{**base, **fields})


async def test_gun_identity_speed_and_detected_head() -> None:
    async with SimulatedDevice(profile(GUN)) as device:
        link = device.virtual_link()
        assert await mb(link, 1, Hello()) == [mbin.Identity(1, 1, 0x11, 1, 4, "P5-00042")]
        assert await mb(link, 2, Ping()) == [mbin.Ack(2, "ping")]
        assert await mb(link, 3, SetIntensity(3)) == [
            mbin.Ack(3, "set_intensity"),
            status(motor=True, head=1, intensity=3, battery=100),
        ]
        state = device.firmware.state
        assert (state.motor, state.intensity, state.head, state.battery) == (True, 3, "ball", 100)
        device.firmware.fit_head("fork")  # a person swaps the attachment: detection reports it unasked
        assert drain(link, mbin.decode_reply) == [status(motor=True, head=3, intensity=3, battery=100)]
        device.firmware.fit_head(None)
        assert drain(link, mbin.decode_reply) == [status(motor=True, head=0, intensity=3, battery=100)]
        assert device.firmware.state.head is None
        assert await mb(link, 4, Stop()) == [mbin.Ack(4, "stop"), status(head=0, battery=100)]
        assert await mb(link, 200, GetStatus()) == [status(seq=200, battery=100)]


async def test_gun_refuses_what_it_cannot_do() -> None:
    async with SimulatedDevice(profile(GUN)) as device:
        link = device.virtual_link()
        assert await mb(link, 9, SetHead(2)) == [mbin.Nak(9, 0x11, "not_supported")]
        assert await mb(link, 10, SetHeat(1)) == [mbin.Nak(10, 0x12, "not_supported")]
        assert await mb(link, 11, SetDirection(0)) == [mbin.Nak(11, 0x14, "not_supported")]
        assert await mb(link, 12, SetIntensity(6)) == [mbin.Nak(12, 0x10, "out_of_range")]
        assert await mb(link, 13, SetMode(1)) == [mbin.Nak(13, 0x13, "out_of_range")]
        assert device.firmware.state.intensity == 0
        assert await mb(link, 14, SetMode(0)) == [mbin.Ack(14, "set_mode"), status(head=1, battery=100)]


async def test_gun_without_head_detection_reports_no_head() -> None:
    undetected = profile(GUN).model_copy(update={"head_detection": False})
    async with SimulatedDevice(undetected) as device:
        link = device.virtual_link()
        device.firmware.fit_head("bullet")
        assert link.recv_nowait() is None  # nothing notices the swap
        assert device.firmware.state.head == "bullet"
        assert await mb(link, 1, GetStatus()) == [status(seq=1, head=0, battery=100)]


async def test_shiatsu_zones_heat_modes_and_direction() -> None:
    async with SimulatedDevice(profile(SHIATSU)) as device:
        link = device.virtual_link()
        assert await mb(link, 1, Hello()) == [mbin.Identity(1, 1, 0x22, 1, 4, "S3-00042")]
        assert await mb(link, 2, SetHead(1)) == [mbin.Ack(2, "set_head"), status(head=1)]
        assert await mb(link, 3, SetIntensity(2)) == [
            mbin.Ack(3, "set_intensity"),
            status(motor=True, head=1, intensity=2),
        ]
        assert await mb(link, 4, SetHeat(2)) == [
            mbin.Ack(4, "set_heat"),
            status(motor=True, heat_on=True, head=1, intensity=2, heat=2),
        ]
        assert await mb(link, 5, SetMode(2)) == [
            mbin.Ack(5, "set_mode"),
            status(motor=True, heat_on=True, head=1, intensity=2, heat=2, mode=2),
        ]
        assert await mb(link, 6, SetDirection(1)) == [
            mbin.Ack(6, "set_direction"),
            status(motor=True, heat_on=True, head=1, intensity=2, heat=2, mode=2, direction=1),
        ]
        state = device.firmware.state
        assert (state.head, state.heat, state.heat_name, state.mode, state.direction) == (
            "upper",
            2,
            "high",
            "rolling",
            "ccw",
        )
        assert await mb(link, 7, Stop()) == [mbin.Ack(7, "stop"), status(head=1, mode=2, direction=1)]
        assert (device.firmware.state.motor, device.firmware.state.heat) == (False, 0)


async def test_shiatsu_range_errors_and_manual_swap_rejected() -> None:
    async with SimulatedDevice(profile(SHIATSU)) as device:
        link = device.virtual_link()
        assert await mb(link, 1, SetHead(4)) == [mbin.Nak(1, 0x11, "out_of_range")]
        assert await mb(link, 2, SetHeat(3)) == [mbin.Nak(2, 0x12, "out_of_range")]
        assert await mb(link, 3, SetDirection(2)) == [mbin.Nak(3, 0x14, "out_of_range")]
        assert await mb(link, 4, SetIntensity(4)) == [mbin.Nak(4, 0x10, "out_of_range")]
        assert device.firmware.state.head == "full"
        with pytest.raises(ValueError, match="by command"):
            device.firmware.fit_head("upper")


async def test_repeated_seq_is_answered_again_without_reapplying() -> None:
    async with SimulatedDevice(profile(SHIATSU)) as device:
        link = device.virtual_link()
        frame = mbin.encode_command(40, SetIntensity(3))
        await link.send(frame)
        first = drain(link, bytes)
        changes: list[object] = []
        device.firmware.subscribe(changes.append)
        await link.send(frame)  # the controller retries: its ack was lost
        assert drain(link, bytes) == first
        assert changes == []
        assert await mb(link, 41, SetIntensity(3)) == [
            mbin.Ack(41, "set_intensity"),
            status(motor=True, head=3, intensity=3),
        ]


async def test_serial_cushion_lines() -> None:
    async with SimulatedDevice(profile(SERIAL)) as device:
        link = device.virtual_link()
        assert await ma(link, Hello()) == [mascii.Identity(0x33, "1.4", "Z3-00042")]
        assert await ma(link, Ping()) == [mascii.Ack("ping")]
        assert await ma(link, SetIntensity(7)) == [
            mascii.Ack("set_intensity"),
            line_status(motor=True, intensity=7),
        ]
        assert await ma(link, SetHead(3)) == [
            mascii.Ack("set_head"),
            line_status(motor=True, head=3, intensity=7),
        ]
        assert await ma(link, SetHeat(1)) == [
            mascii.Ack("set_heat"),
            line_status(motor=True, head=3, intensity=7, heat=1, heat_on=True),
        ]
        assert await ma(link, SetMode(2)) == [
            mascii.Ack("set_mode"),
            line_status(motor=True, head=3, intensity=7, heat=1, heat_on=True, mode=2),
        ]
        state = device.firmware.state
        assert (state.head, state.intensity, state.heat_name, state.mode) == ("lower", 7, "low", "tapping")
        assert await ma(link, Stop()) == [mascii.Ack("stop"), line_status(head=3, mode=2)]
        assert await ma(link, GetStatus()) == [line_status(head=3, mode=2)]


async def test_serial_cushion_error_lines() -> None:
    async with SimulatedDevice(profile(SERIAL)) as device:
        link = device.virtual_link()
        assert await ma(link, SetDirection(1)) == [mascii.Nak("not_supported", "DIR")]
        assert await ma(link, SetHead(4)) == [mascii.Nak("out_of_range", "ZONE")]
        assert await ma(link, SetHeat(3)) == [mascii.Nak("out_of_range", "HEAT")]
        assert await ma(link, SetMode(3)) == [mascii.Nak("out_of_range", "MODE")]
        assert await ma(link, SetIntensity(11)) == [mascii.Nak("out_of_range", "INT")]
        await link.send(line("$", "INT,-1"))
        assert drain(link, mascii.decode_reply) == [mascii.Nak("syntax", "INT")]
        await link.send(line("$", "PING,1"))
        assert drain(link, mascii.decode_reply) == [mascii.Nak("syntax", "PING")]
        assert device.firmware.state.intensity == 0


async def test_serial_stream_split_anywhere_and_bare_newline() -> None:
    async with SimulatedDevice(profile(SERIAL)) as device:
        link = device.virtual_link()
        for byte in line("$", "INT,4")[:-2] + b"\n$ST":
            await link.send(bytes([byte]))
        assert drain(link, mascii.decode_reply) == [
            mascii.Ack("set_intensity"),
            line_status(motor=True, intensity=4),
        ]
        await link.send(b"AT*12\r\n")
        assert drain(link, bytes) == [line("!", "ST,1,2,4,0,0,25.0,01")]


@pytest.mark.parametrize("model", [GUN, SHIATSU])
async def test_refused_head(model: str) -> None:
    faults = FaultSpec(refuse_head="fork" if model == GUN else "lower")
    async with SimulatedDevice(profile(model), faults=faults) as device:
        link = device.virtual_link()
        if model == GUN:
            device.firmware.fit_head("fork")
            drain(link, bytes)
            assert await mb(link, 9, SetIntensity(2)) == [mbin.Nak(9, 0x10, "refused")]
            device.firmware.fit_head("ball")
            drain(link, bytes)
            assert (await mb(link, 10, SetIntensity(2)))[0] == mbin.Ack(10, "set_intensity")
        else:
            assert await mb(link, 9, SetHead(2)) == [mbin.Nak(9, 0x11, "refused")]
            assert device.firmware.state.head == "full"


async def test_serial_refused_zone() -> None:
    async with SimulatedDevice(profile(SERIAL), faults=FaultSpec(refuse_head="upper")) as device:
        link = device.virtual_link()
        assert await ma(link, SetHead(1)) == [mascii.Nak("refused", "ZONE")]
        assert device.firmware.state.head == "middle"


async def test_empty_battery_refuses_the_motor_but_accepts_stop() -> None:
    async with SimulatedDevice(profile(GUN)) as device:
        link = device.virtual_link()
        device.firmware.set_battery(0)
        assert drain(link, mbin.decode_reply) == [status(head=1, battery=0, low_battery=True)]
        assert not device.firmware.state.powered
        assert await mb(link, 5, SetIntensity(1)) == [mbin.Nak(5, 0x10, "battery_empty")]
        assert (await mb(link, 6, Stop()))[0] == mbin.Ack(6, "stop")
        device.firmware.set_battery(80)
        drain(link, bytes)
        assert (await mb(link, 7, SetIntensity(1)))[0] == mbin.Ack(7, "set_intensity")


async def test_person_controls_reject_nonsense() -> None:
    async with SimulatedDevice(profile(GUN)) as device:
        with pytest.raises(ValueError, match="no head"):
            device.firmware.fit_head("upper")
        with pytest.raises(ValueError, match="outside"):
            device.firmware.set_battery(101)
    async with SimulatedDevice(profile(SERIAL)) as device:
        with pytest.raises(ValueError, match="no battery"):
            device.firmware.set_battery(50)


async def test_firmware_needs_starting_and_positive_speed() -> None:
    firmware = Firmware(profile(GUN))
    with pytest.raises(RuntimeError, match="start"):
        firmware.receive(b"\xa5")
    with pytest.raises(ValueError, match="speed"):
        Firmware(profile(GUN), speed=0)


async def test_state_listeners_and_link_lifecycle() -> None:
    async with SimulatedDevice(profile(SHIATSU)) as device:
        seen: list[tuple[bool, int]] = []
        unsubscribe = device.firmware.subscribe(lambda s: seen.append((s.connected, s.intensity)))
        link = device.virtual_link()
        await mb(link, 1, SetIntensity(1))
        await link.aclose()
        await link.aclose()  # idempotent
        unsubscribe()
        device.virtual_link()
        assert seen == [(True, 0), (True, 1), (False, 1)]
        with pytest.raises(ConnectionResetError):
            await link.recv()
        with pytest.raises(ConnectionResetError):
            await link.send(b"\xa5")


async def test_second_link_replaces_the_first() -> None:
    async with SimulatedDevice(profile(SHIATSU)) as device:
        old = device.virtual_link()
        new = device.virtual_link()
        await old.aclose()  # closing the stale link must not cut the new one
        assert device.firmware.state.connected
        assert await mb(new, 1, Ping()) == [mbin.Ack(1, "ping")]



@pytest.mark.parametrize("lossy", [False, True], ids=["clean", "all-lost"])
async def test_on_frame_shows_each_line_in_and_out_as_on_the_wire(lossy: bool) -> None:
    faults = FaultSpec(drop_frame_p=1.0 if lossy else 0.0)  # all-lost: every frame, either direction
    async with SimulatedDevice(profile(SERIAL), faults=faults) as device:
        seen: list[tuple[str, bytes]] = []
        unregister = device.firmware.on_frame(lambda direction, frame: seen.append((direction, frame)))
        link = device.virtual_link()
        # two lines in one chunk, the second split across two sends, as a serial port delivers them
        first, second = mascii.encode_command(SetIntensity(2)), mascii.encode_command(Ping())
        await link.send(first + second[:3])
        await link.send(second[3:])
        out = [frame for direction, frame in seen if direction == "out"]
        assert [frame for direction, frame in seen if direction == "in"] == [first, second]
        if lossy:
            assert out == []  # what the device meant to send never reached the wire
            assert device.firmware.state.intensity == 0  # nor did the command reach the device
        else:
            assert out == drain(link, bytes)  # exactly what the controller's end received
            replies = [mascii.decode_reply(frame) for frame in out]
            assert [type(r) for r in replies] == [mascii.Ack, mascii.Status, mascii.Ack]
        unregister()
        await link.send(second)
        assert len(seen) == (2 if lossy else 5)
