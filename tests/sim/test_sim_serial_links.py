"""Serial front-ends with real pyserial: a pty pair and a TCP port (``socket://``)."""

from __future__ import annotations

import asyncio
import logging
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import serial

from firmware_sim import FaultSpec, SimulatedDevice, mascii
from firmware_sim.messages import Ping, SetHeat, SetIntensity, Stop
from massager_ctl.catalog import Catalog
from massager_ctl.errors import ConfigError
from massager_ctl.protocol import Nak
from massager_ctl.protocol import mascii as controller_mascii

SERIAL = "serial-cushion-z3"


def exchange(port: serial.SerialBase, *lines: bytes, replies: int) -> list[bytes]:
    """Write lines, read ``replies`` lines back (blocking; run in a thread)."""
    port.write(b"".join(lines))
    return [port.readline() for _ in range(replies)]


async def test_pty_round_trip_with_pyserial() -> None:
    async with SimulatedDevice(Catalog().device(SERIAL)) as device:
        url = await device.serve_pty()
        parts = urlsplit(url)
        assert parts.scheme == "serial"
        assert parts.path.startswith("/dev/")
        assert parse_qs(parts.query) == {"model": [SERIAL]}

        def controller() -> list[bytes]:
            with serial.Serial(parts.path, 115200, timeout=2) as port:
                return exchange(
                    port,
                    mascii.encode_command(SetIntensity(6)),
                    mascii.encode_command(SetHeat(2)),
                    replies=4,
                )

        lines = await asyncio.to_thread(controller)
        assert [mascii.decode_reply(line) for line in lines[::2]] == [
            mascii.Ack("set_intensity"),
            mascii.Ack("set_heat"),
        ]
        status = mascii.decode_reply(lines[3])
        assert isinstance(status, mascii.Status)
        assert (status.intensity, status.heat, status.heat_on) == (6, 2, True)
        assert (device.firmware.state.intensity, device.firmware.state.heat) == (6, 2)

        # the pair survives the controller closing: the next one opens the same path
        def second_controller() -> list[bytes]:
            port = serial.serial_for_url(parts.path, baudrate=115200, timeout=2)
            try:
                port.reset_input_buffer()
                return exchange(port, mascii.encode_command(Stop()), replies=2)
            finally:
                port.close()

        stop_ack, stopped = await asyncio.to_thread(second_controller)
        assert mascii.decode_reply(stop_ack) == mascii.Ack("stop")
        assert isinstance(status := mascii.decode_reply(stopped), mascii.Status)
        assert (status.motor, status.heat) == (False, 0)
        assert device.firmware.state.motor is False


async def test_an_unknown_long_word_is_echoed_cut_to_the_line_limit_on_the_pty() -> None:
    word = "X" * 58  # the longest word a 64-byte command line can carry
    line = f"${word}*{mascii.checksum(word.encode()):02X}\r\n".encode()
    assert len(line) == mascii.MAX_LINE
    async with SimulatedDevice(Catalog().device(SERIAL)) as device:
        path = urlsplit(await device.serve_pty()).path

        def controller() -> list[bytes]:
            with serial.Serial(path, 115200, timeout=2) as port:
                return exchange(port, line, mascii.encode_command(Ping()), replies=2)

        error, pong = await asyncio.to_thread(controller)
    # "!ER,UNKNOWN," and "*HH\r\n" leave 47 bytes of the word
    body = "ER,UNKNOWN," + "X" * 47
    assert error == f"!{body}*{mascii.checksum(body.encode()):02X}\r\n".encode()
    assert len(error) == mascii.MAX_LINE
    assert mascii.decode_reply(error) == mascii.Nak("unknown_op", "X" * 47)
    # the controller's own decoder takes the line too, and the link goes on in step
    assert controller_mascii.decode(error) == Nak(error="unknown_op", command="X" * 47)
    assert mascii.decode_reply(pong) == mascii.Ack("ping")


async def test_tcp_round_trip_with_pyserial_socket_url() -> None:
    async with SimulatedDevice(Catalog().device(SERIAL)) as device:
        url = await device.serve_tcp()
        parts = urlsplit(url)
        assert parts.scheme == "tcp"
        assert parts.hostname == "127.0.0.1"
        assert parse_qs(parts.query) == {"model": [SERIAL]}

        def controller() -> list[bytes]:
            port = serial.serial_for_url(f"socket://{parts.netloc}", timeout=2)
            try:
                return exchange(port, b"$ID*0D\r\n", mascii.encode_command(SetIntensity(3)), replies=3)
            finally:
                port.close()

        identity, ack, status = await asyncio.to_thread(controller)
        assert mascii.decode_reply(identity) == mascii.Identity(0x33, "1.4", "Z3-00042")
        assert mascii.decode_reply(ack) == mascii.Ack("set_intensity")
        assert isinstance(reported := mascii.decode_reply(status), mascii.Status)
        assert reported.intensity == 3
        assert device.firmware.state.intensity == 3
        hung_up = asyncio.Event()
        device.firmware.subscribe(lambda state: None if state.connected else hung_up.set())
        if device.firmware.state.connected:
            await asyncio.wait_for(hung_up.wait(), 5)  # the client hung up


# Real-time link drops: the tests wait for the firmware's own drop and restore callbacks instead of sleeping
# to a schedule, and every step that must fall inside a window has ≥ 0.5 s of margin (it takes milliseconds),
# so a loaded machine does not flip them.
DROP_AT_S = 0.5
DOWN_S = 1.0


async def test_tcp_link_drop_hangs_up_and_refuses_until_restored() -> None:
    faults = FaultSpec(drop_link_at=DROP_AT_S, reconnect_after=DOWN_S)
    async with SimulatedDevice(Catalog().device(SERIAL), faults=faults) as device:
        restored = asyncio.Event()
        device.firmware.on_link_restore(restored.set)
        host, port = urlsplit(await device.serve_tcp()).netloc.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(mascii.encode_command(Ping()))
        assert await asyncio.wait_for(reader.readline(), 2) == mascii.encode_reply(mascii.Ack("ping"))
        assert device.firmware.link_available, "the ping was meant to come before the drop"
        assert await asyncio.wait_for(reader.read(), 5) == b""  # hung up at the drop
        writer.close()
        reader, writer = await asyncio.open_connection(host, int(port))
        assert await asyncio.wait_for(reader.read(), 2) == b""  # the cable is still unplugged
        writer.close()
        assert not restored.is_set(), "the refused connection was meant to fall inside the drop"
        await asyncio.wait_for(restored.wait(), 5)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(mascii.encode_command(Ping()))
        assert await asyncio.wait_for(reader.readline(), 2) == mascii.encode_reply(mascii.Ack("ping"))
        writer.close()


async def test_pty_link_drop_is_silence_both_ways() -> None:
    faults = FaultSpec(drop_link_at=DROP_AT_S, reconnect_after=DOWN_S)
    async with SimulatedDevice(Catalog().device(SERIAL), faults=faults) as device:
        path = urlsplit(await device.serve_pty()).path
        dropped, restored = threading.Event(), threading.Event()
        device.firmware.on_link_drop(dropped.set)
        device.firmware.on_link_restore(restored.set)

        def controller() -> tuple[list[bytes], bool, bool]:
            with serial.Serial(path, 115200, timeout=0.3) as port:
                first = exchange(port, mascii.encode_command(Ping()), replies=1)
                before_drop = not dropped.is_set()
                assert dropped.wait(5)
                during = exchange(port, mascii.encode_command(Ping()), replies=1)  # waits 0.3 s for nothing
                still_down = not restored.is_set()
                assert restored.wait(5)
                after = exchange(port, mascii.encode_command(Ping()), replies=1)
                return first + during + after, before_drop, still_down

        (first, during, after), before_drop, still_down = await asyncio.to_thread(controller)
        assert before_drop, "the first ping was meant to come before the drop"
        assert still_down, "the second ping was meant to fall inside the drop"
        assert first == after == mascii.encode_reply(mascii.Ack("ping"))
        assert during == b""


async def test_serial_front_ends_are_for_serial_models() -> None:
    async with SimulatedDevice(Catalog().device("pulse-gun-p5")) as device:
        with pytest.raises(ConfigError, match="serves serial models"):
            await device.serve_pty()
        with pytest.raises(ConfigError, match="serves serial models"):
            await device.serve_tcp()
    async with SimulatedDevice(Catalog().device(SERIAL)) as device:
        with pytest.raises(ConfigError, match="not BLE"):
            await device.serve_ble()


async def test_tcp_close_with_a_client_connected_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with SimulatedDevice(Catalog().device(SERIAL)) as device:
        host, port = urlsplit(await device.serve_tcp()).netloc.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(mascii.encode_command(Ping()))
        assert await asyncio.wait_for(reader.readline(), 2) == mascii.encode_reply(mascii.Ack("ping"))
        assert device.firmware.state.connected
    # the face closed under a connected client: the client is hung up and nothing is logged as an error
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    await asyncio.sleep(0)  # let any done callbacks of the closed face run
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
