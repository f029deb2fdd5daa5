"""The Reverie base's side of the wire: ``55 … CK`` commands in, 9-byte notifications out.

Written from ``docs/devices/reverie.md``, independently of the controller's codec.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Literal

from firmware_sim.messages import FrameError

Action = Literal[
    "head_massage",
    "foot_massage",
    "wave",
    "stop_massage",
    "head_position",
    "foot_position",
    "stop",
    "flat",
    "zero_g",
]

# op byte -> (action, takes a value byte, highest value)
_OPS: dict[int, tuple[Action, bool, int]] = {
    0x53: ("head_massage", True, 10),
    0x54: ("foot_massage", True, 10),
    0x51: ("head_position", True, 100),
    0x52: ("foot_position", True, 100),
    0x35: ("stop_massage", False, 0),
    0xFF: ("stop", False, 0),
    0x05: ("flat", False, 0),
    0x15: ("zero_g", False, 0),
}


@dataclass(frozen=True, slots=True)
class Order:
    """One command: what to do and its value (0 where the command has none)."""

    action: Action
    value: int = 0


@dataclass(frozen=True, slots=True)
class Report:
    head_position: int = 0
    foot_position: int = 0
    head_massage: int = 0
    foot_massage: int = 0


def _xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0x55)


def decode_command(frame: bytes) -> Order:
    """One written frame.

    Raises:
        FrameError: wrong sync, length or checksum, an unknown op or a value out of range.
    """
    if not 3 <= len(frame) <= 4:
        raise FrameError(f"frame of {len(frame)} bytes", kind="bad_length")
    if frame[0] != 0x55:
        raise FrameError("frame without 55", kind="bad_sync")
    if _xor(frame[1:-1]) != frame[-1]:
        raise FrameError("frame checksum", kind="bad_checksum")
    op = frame[1]
    if 0x40 <= op <= 0x4F:
        if len(frame) != 3:
            raise FrameError("wave takes no value", kind="bad_length")
        return Order("wave", op - 0x40)
    if op not in _OPS:
        raise FrameError(f"op {op:#04x}", kind="unknown_op")
    action, has_value, top = _OPS[op]
    if has_value != (len(frame) == 4):
        raise FrameError(f"{action} frame of {len(frame)} bytes", kind="bad_length")
    value = frame[2] if has_value else 0
    if value > top:
        raise FrameError(f"{action} {value} above {top}", kind="bad_payload")
    return Order(action, value)


def encode_report(report: Report) -> bytes:
    """The 9-byte notification; the bytes whose meaning is not public are sent as zero."""
    return bytes(
        (0, 0, report.head_position, report.foot_position, report.head_massage, report.foot_massage, 0, 0, 0)
    )
