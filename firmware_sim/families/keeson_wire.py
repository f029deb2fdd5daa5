"""The Keeson base's side of the wire: key frames in, status notifications out.

Written from ``docs/devices/keeson.md``, independently of the controller's codec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from firmware_sim.messages import FrameError

KEY_FRAME = b"\xe5\xfe\x16"

HEAD_UP, HEAD_DOWN, FEET_UP, FEET_DOWN = 0x1, 0x2, 0x4, 0x8
MASSAGE_STEP = 0x100
TIMER_STEP = 0x200
FOOT_PLUS = 0x400
HEAD_PLUS = 0x800
ZERO_G = 0x1000
LIGHT = 0x20000
HEAD_MINUS = 0x800000
FOOT_MINUS = 0x1000000
MASSAGE_OFF = 0x2000000
FLAT = 0x8000000
WAVE_STEP = 0x10000000

Form = Literal["ed", "f0", "f1"]
Corruption = Literal["bad", "stale"]


@dataclass(frozen=True, slots=True)
class Press:
    """The keys held in one frame (a 32-bit mask; 0 is a release)."""

    keys: int


@dataclass(frozen=True, slots=True)
class StatusFrame:
    """What the base reports; ``form`` picks the frame layout."""

    head_position: int = 0
    foot_position: int = 0
    head_massage: int = 0
    foot_massage: int = 0
    remaining_cs: int = 0
    timer_min: int | None = None
    motion: int = 0x0F
    led_on: bool = False
    form: Form = "ed"


def _ck(data: bytes) -> int:
    return (0xFF - (sum(data) & 0xFF)) & 0xFF


def decode_command(frame: bytes) -> Press:
    """One written frame.

    Raises:
        FrameError: a wrong length, header or checksum.
    """
    if len(frame) != 8:
        raise FrameError(f"key frame of {len(frame)} bytes", kind="bad_length")
    if frame[:3] != KEY_FRAME:
        raise FrameError("key frame without e5 fe 16", kind="bad_sync")
    if _ck(frame[:7]) != frame[7]:
        raise FrameError("key frame checksum", kind="bad_checksum")
    return Press(frame[3] | frame[4] << 8 | frame[5] << 16 | frame[6] << 24)


_TIMER_CODE = {None: 0xFF, 10: 1, 20: 2, 30: 3}


def encode_status(status: StatusFrame, *, corrupt: Corruption | None = None, previous: bytes = b"") -> bytes:
    """One status notification.

    Args:
        status: the fields to report.
        corrupt: ``bad`` flips the checksum, ``stale`` reuses ``previous``'s checksum byte, as
            real bases do in about a quarter of their frames.
        previous: the last frame sent (for ``stale``).

    Raises:
        FrameError: a field that does not fit its bytes.
    """
    if status.timer_min not in _TIMER_CODE:
        raise FrameError(f"timer {status.timer_min} min", kind="bad_payload")
    rem = status.remaining_cs.to_bytes(3, "little")
    pos = status.head_position.to_bytes(2, "little") + status.foot_position.to_bytes(2, "little")
    levels = bytes((status.head_massage, status.foot_massage))
    timer = _TIMER_CODE[status.timer_min]
    motion = (status.motion & 0x0F) | (0x40 if status.led_on else 0)
    if status.form == "ed":
        body = b"\xed\xfe\x16" + pos + levels + rem + bytes((0, motion, timer))
    elif status.form == "f1":
        body = b"\xf1\xfe\x16" + pos + levels + rem + bytes((0, motion, timer, 0, 0, 0, 0))
    else:
        body = b"\xf0\xfe\x16" + pos + levels + b"\x00" + rem + bytes((0, 0, timer, 0, 0))
    ck = _ck(body)
    if corrupt == "bad":
        ck ^= 0x5A
    elif corrupt == "stale" and previous:
        ck = previous[-1] if previous[-1] != ck else ck ^ 0x01
    return body + bytes((ck,))
