"""The Richmat base's side of the wire: ``6E 01 00 CMD CK`` frames in, nothing out.

Written from ``docs/devices/richmat.md``, independently of the controller's codec.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_sim.messages import FrameError

TOGGLE, HEAD_STEP, FOOT_STEP, PATTERN_STEP, END = 0x5D, 0x4C, 0x4E, 0x48, 0x6E
HEAD_SET = range(0x98, 0x9C)  # head off, 1, 2, 3
FOOT_SET = range(0x9C, 0xA0)  # foot off, 1, 2, 3
_KNOWN = {TOGGLE, HEAD_STEP, FOOT_STEP, PATTERN_STEP, END, *HEAD_SET, *FOOT_SET}


@dataclass(frozen=True, slots=True)
class Button:
    code: int


def decode_command(frame: bytes) -> Button:
    """One written frame.

    Raises:
        FrameError: wrong length, header or checksum, or an unknown command.
    """
    if len(frame) != 5:
        raise FrameError(f"frame of {len(frame)} bytes", kind="bad_length")
    if frame[:3] != b"\x6e\x01\x00":
        raise FrameError("frame without 6e 01 00", kind="bad_sync")
    if (frame[3] + 0x6F) % 256 != frame[4]:
        raise FrameError("frame checksum", kind="bad_checksum")
    if frame[3] not in _KNOWN:
        raise FrameError(f"command {frame[3]:#04x}", kind="unknown_op")
    return Button(frame[3])


def encode_command(button: Button) -> bytes:
    """The frame of a button (the simulator's tests use it to drive the base)."""
    return bytes((0x6E, 0x01, 0x00, button.code, (button.code + 0x6F) % 256))
