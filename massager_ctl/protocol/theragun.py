"""Theragun 4th generation (PRO, Elite, Prime): ``AA CK cmd args`` out, ``BB CK cmd ...`` back.

Facts from a decompiled-app snippet and protocol notes (see ``docs/devices/theragun.md``):
``CK = sum(bytes 2..end) & 0xFF``; speed is an RPM, big-endian. The reply layout beyond the
running flag (byte 4) and the speed (bytes 13-14) is not public. Pure functions; only
:class:`FrameError` escapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from massager_ctl.protocol.messages import FrameError

COMMAND_SYNC = 0xAA
REPLY_SYNC = 0xBB
CMD_SPEED = 0x01
CMD_STATUS = 0x10
CMD_VERSION = 0x20
STATUS_MIN_LEN = 15
MAX_RPM = 0xFFFF


@dataclass(frozen=True, slots=True)
class SetSpeed:
    """Run at ``rpm`` (0 stops)."""

    rpm: int


@dataclass(frozen=True, slots=True)
class RequestStatus:
    pass


@dataclass(frozen=True, slots=True)
class RequestVersion:
    pass


TheragunCommand = SetSpeed | RequestStatus | RequestVersion


@dataclass(frozen=True, slots=True)
class TheragunStatus:
    """A status reply: the motor's running flag and its speed."""

    running: bool
    rpm: int


@dataclass(frozen=True, slots=True)
class TheragunVersion:
    """A version reply; its layout is not public, so the bytes after the command are kept as they are."""

    payload: bytes


TheragunReply = TheragunStatus | TheragunVersion


def checksum(body: bytes) -> int:
    """Sum of every byte after the checksum position, modulo 256."""
    return sum(body) & 0xFF


def _frame(sync: int, body: bytes) -> bytes:
    return bytes((sync, checksum(body))) + body


def encode(command: TheragunCommand) -> bytes:
    """The wire frame of a command.

    Raises:
        FrameError: an RPM outside 0-65535.
    """
    match command:
        case SetSpeed(rpm=rpm):
            if not 0 <= rpm <= MAX_RPM:
                raise FrameError(f"rpm {rpm} is outside 0-{MAX_RPM}", kind="out_of_range")
            return _frame(COMMAND_SYNC, bytes((CMD_SPEED, 0x03, rpm >> 8, rpm & 0xFF, 0x03)))
        case RequestStatus():
            return _frame(COMMAND_SYNC, bytes((CMD_STATUS, 0x00)))
        case RequestVersion():
            return _frame(COMMAND_SYNC, bytes((CMD_VERSION, 0x00)))


def _checked(frame: bytes, sync: int) -> bytes:
    if len(frame) < 4:
        raise FrameError(f"a frame is at least 4 bytes, got {len(frame)}", kind="bad_length")
    if frame[0] != sync:
        raise FrameError(f"sync byte {frame[0]:#04x} is not {sync:#04x}", kind="bad_sync")
    body = frame[2:]
    if frame[1] != checksum(body):
        raise FrameError(f"checksum {frame[1]:#04x}, expected {checksum(body):#04x}", kind="bad_checksum")
    return body


def decode_command(frame: bytes) -> TheragunCommand:
    """Read a command frame back (for wire logs and tests).

    Raises:
        FrameError: a wrong sync byte or length, a bad checksum or an unknown command.
    """
    body = _checked(frame, COMMAND_SYNC)
    if body == bytes((CMD_STATUS, 0x00)):
        return RequestStatus()
    if body == bytes((CMD_VERSION, 0x00)):
        return RequestVersion()
    if body[0] == CMD_SPEED:
        if len(body) != 5 or body[1] != 0x03 or body[4] != 0x03:
            raise FrameError(f"speed frame body {body.hex(' ')} is not 01 03 RH RL 03", kind="bad_length")
        return SetSpeed(body[2] << 8 | body[3])
    raise FrameError(f"unknown command {body.hex(' ')}", kind="unknown_op")


def decode_reply(frame: bytes) -> TheragunReply:
    """Decode a notification.

    Raises:
        FrameError: a wrong sync byte, a bad checksum, a status reply shorter than 15 bytes or
            an unknown reply.
    """
    body = _checked(frame, REPLY_SYNC)
    if body[0] == CMD_STATUS:
        if len(frame) < STATUS_MIN_LEN:
            raise FrameError(
                f"a status reply is at least {STATUS_MIN_LEN} bytes, got {len(frame)}", kind="bad_length"
            )
        return TheragunStatus(running=frame[4] != 0, rpm=frame[13] << 8 | frame[14])
    if body[0] == CMD_VERSION:
        return TheragunVersion(bytes(body[1:]))
    raise FrameError(f"unknown reply {body[0]:#04x}", kind="unknown_op")
