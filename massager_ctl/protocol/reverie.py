"""Reverie bed bases: ``55 <payload> CK`` frames on one characteristic, 9-byte notifications back.

Facts from public reverse engineering (see ``docs/devices/reverie.md``): ``CK = 0x55 XOR every
payload byte``; massage levels are absolute (0-10 per zone). Pure functions; only
:class:`FrameError` escapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from massager_ctl.protocol.messages import FrameError

SYNC = 0x55
STATUS_LEN = 9
MAX_MASSAGE_LEVEL = 10
MAX_WAVE = 0x0F  # wave pattern n travels as 0x40 + n; the number of patterns is not published

OP_HEAD_MASSAGE = 0x53
OP_FOOT_MASSAGE = 0x54
OP_WAVE = 0x40
OP_STOP_MASSAGE = 0x35
OP_HEAD_POSITION = 0x51
OP_FOOT_POSITION = 0x52
OP_STOP_MOTORS = 0xFF
OP_FLAT = 0x05
OP_ZERO_G = 0x15


@dataclass(frozen=True, slots=True)
class SetHeadMassage:
    level: int


@dataclass(frozen=True, slots=True)
class SetFootMassage:
    level: int


@dataclass(frozen=True, slots=True)
class SetWave:
    pattern: int


@dataclass(frozen=True, slots=True)
class StopMassage:
    pass


@dataclass(frozen=True, slots=True)
class SetHeadPosition:
    percent: int


@dataclass(frozen=True, slots=True)
class SetFootPosition:
    percent: int


@dataclass(frozen=True, slots=True)
class StopMotors:
    pass


@dataclass(frozen=True, slots=True)
class Flat:
    pass


@dataclass(frozen=True, slots=True)
class ZeroG:
    pass


ReverieCommand = (
    SetHeadMassage
    | SetFootMassage
    | SetWave
    | StopMassage
    | SetHeadPosition
    | SetFootPosition
    | StopMotors
    | Flat
    | ZeroG
)


@dataclass(frozen=True, slots=True)
class ReverieStatus:
    """A 9-byte notification: positions 0-100 % and the two massage levels (head carries wave too)."""

    head_position: int
    foot_position: int
    head_massage: int
    foot_massage: int


def checksum(payload: bytes) -> int:
    value = SYNC
    for byte in payload:
        value ^= byte
    return value


def _ranged(value: int, top: int, what: str) -> int:
    if not 0 <= value <= top:
        raise FrameError(f"{what} {value} is outside 0-{top}", kind="out_of_range")
    return value


def _payload(command: ReverieCommand) -> bytes:
    match command:
        case SetHeadMassage(level=level):
            return bytes((OP_HEAD_MASSAGE, _ranged(level, MAX_MASSAGE_LEVEL, "head massage level")))
        case SetFootMassage(level=level):
            return bytes((OP_FOOT_MASSAGE, _ranged(level, MAX_MASSAGE_LEVEL, "foot massage level")))
        case SetWave(pattern=pattern):
            return bytes((OP_WAVE + _ranged(pattern, MAX_WAVE, "wave pattern"),))
        case SetHeadPosition(percent=percent):
            return bytes((OP_HEAD_POSITION, _ranged(percent, 100, "head position")))
        case SetFootPosition(percent=percent):
            return bytes((OP_FOOT_POSITION, _ranged(percent, 100, "foot position")))
        case StopMassage():
            return bytes((OP_STOP_MASSAGE,))
        case StopMotors():
            return bytes((OP_STOP_MOTORS,))
        case Flat():
            return bytes((OP_FLAT,))
        case ZeroG():
            return bytes((OP_ZERO_G,))


def encode(command: ReverieCommand) -> bytes:
    """The wire frame of a command.

    Raises:
        FrameError: a level, pattern or position out of its range.
    """
    payload = _payload(command)
    return bytes((SYNC, *payload, checksum(payload)))


_SINGLE: dict[int, ReverieCommand] = {
    OP_STOP_MASSAGE: StopMassage(),
    OP_STOP_MOTORS: StopMotors(),
    OP_FLAT: Flat(),
    OP_ZERO_G: ZeroG(),
}


_WITH_VALUE: dict[int, tuple[Callable[[int], ReverieCommand], int, str]] = {
    OP_HEAD_MASSAGE: (SetHeadMassage, MAX_MASSAGE_LEVEL, "head massage level"),
    OP_FOOT_MASSAGE: (SetFootMassage, MAX_MASSAGE_LEVEL, "foot massage level"),
    OP_HEAD_POSITION: (SetHeadPosition, 100, "head position"),
    OP_FOOT_POSITION: (SetFootPosition, 100, "foot position"),
}


def decode_command(frame: bytes) -> ReverieCommand:
    """Read a command frame back (for wire logs and tests).

    Raises:
        FrameError: a wrong sync byte or length, a bad checksum, an unknown op or a value out of range.
    """
    if len(frame) < 3:
        raise FrameError(f"a frame is 3 or 4 bytes, got {len(frame)}", kind="bad_length")
    if frame[0] != SYNC:
        raise FrameError(f"sync byte {frame[0]:#04x} is not 0x55", kind="bad_sync")
    payload = frame[1:-1]
    if frame[-1] != checksum(payload):
        raise FrameError(f"checksum {frame[-1]:#04x}, expected {checksum(payload):#04x}", kind="bad_checksum")
    op, args = payload[0], payload[1:]
    if op in _WITH_VALUE:
        if len(args) != 1:
            raise FrameError(f"op {op:#04x} takes one value byte", kind="bad_length")
        build, top, what = _WITH_VALUE[op]
        return build(_ranged(args[0], top, what))
    if args:
        raise FrameError(f"op {op:#04x} takes no value byte", kind="bad_length")
    if op in _SINGLE:
        return _SINGLE[op]
    if OP_WAVE <= op <= OP_WAVE + MAX_WAVE:
        return SetWave(op - OP_WAVE)
    raise FrameError(f"unknown op {op:#04x}", kind="unknown_op")


def decode_status(frame: bytes) -> ReverieStatus:
    """Decode a 9-byte notification (bytes 0, 1, 6-8 are not interpreted).

    Raises:
        FrameError: not 9 bytes (the open implementations ignore other lengths), or a value
            beyond its range.
    """
    if len(frame) != STATUS_LEN:
        raise FrameError(f"a notification is {STATUS_LEN} bytes, got {len(frame)}", kind="bad_length")
    return ReverieStatus(
        head_position=_ranged(frame[2], 100, "head position"),
        foot_position=_ranged(frame[3], 100, "foot position"),
        head_massage=_ranged(frame[4], MAX_MASSAGE_LEVEL, "head massage level"),
        foot_massage=_ranged(frame[5], MAX_MASSAGE_LEVEL, "foot massage level"),
    )
