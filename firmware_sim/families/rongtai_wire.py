"""The chair board's side of the serial link: 5-byte key frames in, 17-byte status frames out.

Written from ``docs/devices/rongtai.md``, independently of the controller's codec.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_sim.messages import FrameError

SOF, EOF_ = 0xF0, 0xF1


@dataclass(frozen=True, slots=True)
class Key:
    key: int
    ctrl: int = 0x82


@dataclass(frozen=True, slots=True)
class BoardStatus:
    running: bool = False
    technique: int = 0
    program: int = 0
    heat_on: bool = False
    speed: int = 0
    width: int = 0
    remaining_s: int = 0
    body_scan: bool = False
    timer_min: int | None = None


def _seven(value: int) -> int:
    return (0x7F - (value & 0x7F)) & 0x7F


def decode_command(frame: bytes) -> Key:
    """One key frame.

    Raises:
        FrameError: wrong length, markers or checksum, or a key at or above 0x80.
    """
    if len(frame) != 5:
        raise FrameError(f"key frame of {len(frame)} bytes", kind="bad_length")
    if (frame[0], frame[4]) != (SOF, EOF_):
        raise FrameError("key frame markers", kind="bad_sync")
    ctrl, key = frame[1], frame[2]
    if key > 0x7F or not 0x80 <= ctrl <= 0xEF:
        raise FrameError(f"ctrl {ctrl:#04x} key {key:#04x}", kind="bad_payload")
    if _seven(ctrl + key) != frame[3]:
        raise FrameError("key frame checksum", kind="bad_checksum")
    return Key(key, ctrl)


_TIMER = {None: 0, 10: 1, 20: 2, 30: 3}


def encode_status(status: BoardStatus) -> bytes:
    """The 17-byte status frame (bytes whose meaning is not public are sent as zero)."""
    b = [0] * 15  # b[1]..b[14]; b[0] unused
    b[1] = (0x40 if status.running else 0) | (status.technique & 7) << 3 | (status.program & 7)
    b[2] = (0x40 if status.heat_on else 0) | (status.speed & 7) << 2 | (status.width & 3)
    b[4] = (status.remaining_s >> 7) & 0x1F
    b[5] = status.remaining_s & 0x7F
    b[9] = 0x40 if status.body_scan else 0
    b[12] = _TIMER[status.timer_min]
    inner = bytes(b[1:])
    return bytes((SOF, *inner, _seven(sum(inner)), EOF_))


class Deframer:
    """Finds ``F0 … F1`` key frames in the serial byte stream; noise between frames is skipped."""

    def __init__(self) -> None:
        self._pending: bytes | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """Returns every complete frame (or over-long run, cut at 17 bytes) in ``data``."""
        out: list[bytes] = []
        for value in data:
            if value == SOF:
                self._pending = bytes((SOF,))
                continue
            if self._pending is None:
                continue
            self._pending += bytes((value,))
            if value == EOF_ or len(self._pending) > 17:
                out.append(self._pending)
                self._pending = None
        return out
