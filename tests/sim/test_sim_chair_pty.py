"""The Rongtai-family chair simulator over a real pty at 115200 8N1, driven with pyserial."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import serial

from firmware_sim.families import ProductFirmware, firmware_for
from firmware_sim.serial_link import PtyFrontEnd
from massager_ctl.catalog import Catalog

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "rongtai.json").read_text())
KEYS = {v["name"]: bytes.fromhex(v["hex"]) for v in VECTORS["valid"] if v["direction"] == "to_device"}


@contextlib.asynccontextmanager
async def chair(*, speed: float = 1.0) -> AsyncIterator[tuple[ProductFirmware, str]]:
    async with firmware_for(Catalog().device("rongtai-rt6923-chair"), speed=speed) as firmware:
        front = PtyFrontEnd(firmware)
        path = front.open()
        try:
            yield firmware, path
        finally:
            front.close()


def status_fields(frame: bytes) -> dict[str, int]:
    """Check a status frame against the public rule and pick out a few fields (apart from both codecs)."""
    assert len(frame) == 17, frame.hex(" ")
    assert (frame[0], frame[16]) == (0xF0, 0xF1)
    assert frame[15] == (~sum(frame[1:15]) & 0x7F)
    return {
        "running": frame[1] >> 6 & 1,
        "technique": frame[1] >> 3 & 7,
        "heat": frame[2] >> 6 & 1,
        "speed": frame[2] >> 2 & 7,
        "remaining_s": (frame[4] & 0x1F) << 7 | frame[5],
        "timer": frame[12] & 3,
    }


def press(port: serial.Serial, key: bytes, replies: int) -> list[bytes]:
    port.write(key)
    return [port.read(17) for _ in range(replies)]


async def test_keys_over_a_real_pty_change_the_chair_and_each_change_is_reported() -> None:
    async with chair() as (firmware, path):

        def session() -> list[list[bytes]]:
            with serial.Serial(path, 115200, bytesize=8, parity="N", stopbits=1, timeout=2) as port:
                port.reset_input_buffer()
                return [
                    press(port, KEYS["power"], 1),
                    press(port, KEYS["back heat toggle"], 1),
                    press(port, KEYS["speed 6"], 1),
                    press(port, KEYS["knead"], 0),  # already kneading: nothing changes, nothing is sent
                    press(port, KEYS["power"], 1),
                ]

        on, heat, fast, same, off = await asyncio.to_thread(session)
        assert same == []
        first = status_fields(on[0])
        assert (first["running"], first["technique"], first["speed"], first["timer"]) == (1, 1, 3, 2)
        assert 1190 <= first["remaining_s"] <= 1200
        assert status_fields(heat[0])["heat"] == 1
        assert status_fields(fast[0])["speed"] == 6
        last = status_fields(off[0])
        assert (last["running"], last["heat"]) == (0, 0)
        assert not firmware.state.running


async def test_the_chair_reports_the_seconds_left_and_stops_by_its_own_timer() -> None:
    async with chair(speed=1200) as (firmware, path):  # the 20-minute program lasts one second

        def session() -> list[bytes]:
            with serial.Serial(path, 115200, timeout=3) as port:
                port.write(KEYS["power"])
                frames = [port.read(17)]
                while frames[-1][1] & 0x40 and len(frames) < 5000:  # until a frame says it stopped
                    frames.append(port.read(17))
                return frames

        frames = await asyncio.to_thread(session)
        fields = [status_fields(f) for f in frames]
        assert fields[0]["running"] == 1
        left = [f["remaining_s"] for f in fields if f["running"]]
        assert left == sorted(left, reverse=True)
        assert len(left) >= 2  # the countdown is reported as it changes
        assert fields[-1]["running"] == 0
        assert fields[-1]["heat"] == 0
        assert not firmware.state.running


async def test_a_stream_cut_anywhere_and_noise_between_frames_are_handled() -> None:
    async with chair() as (firmware, path):

        def session() -> bytes:
            with serial.Serial(path, 115200, timeout=2) as port:
                stream = b"\x00\x7f" + KEYS["power"] + b"\x13" + KEYS["20-minute timer"]
                for byte in stream:
                    port.write(bytes((byte,)))
                return port.read(34)

        frames = await asyncio.to_thread(session)
        assert len(frames) == 34
        assert status_fields(frames[17:])["timer"] == 2
        assert firmware.state.timer_min == 20
