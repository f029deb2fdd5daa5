"""The Theragun's side of the wire: ``AA CK …`` commands in, ``BB CK …`` replies out.

Written from ``docs/devices/theragun.md``, independently of the controller's codec.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_sim.messages import FrameError

#: The firmware version this simulator reports in its version reply (layout not public; see docs).
VERSION_BYTES = b"\x04\x01\x00"
STATUS_REPLY_LEN = 15


@dataclass(frozen=True, slots=True)
class Speed:
    rpm: int


@dataclass(frozen=True, slots=True)
class StatusQuery:
    pass


@dataclass(frozen=True, slots=True)
class VersionQuery:
    pass


GunCommand = Speed | StatusQuery | VersionQuery


@dataclass(frozen=True, slots=True)
class GunStatus:
    running: bool
    rpm: int


def _sum(data: bytes) -> int:
    return sum(data) % 256


def decode_command(frame: bytes) -> GunCommand:
    """One written frame.

    Raises:
        FrameError: wrong sync, length or checksum, or an unknown command.
    """
    if len(frame) < 4:
        raise FrameError(f"frame of {len(frame)} bytes", kind="bad_length")
    if frame[0] != 0xAA:
        raise FrameError("frame without aa", kind="bad_sync")
    if _sum(frame[2:]) != frame[1]:
        raise FrameError("frame checksum", kind="bad_checksum")
    cmd, rest = frame[2], frame[3:]
    if cmd == 0x10 and rest == b"\x00":
        return StatusQuery()
    if cmd == 0x20 and rest == b"\x00":
        return VersionQuery()
    if cmd == 0x01 and len(rest) == 4 and rest[0] == 3 and rest[3] == 3:
        return Speed(int.from_bytes(rest[1:3], "big"))
    if cmd in (0x01, 0x10, 0x20):
        raise FrameError(f"command {cmd:#04x} with {rest.hex(' ')}", kind="bad_length")
    raise FrameError(f"command {cmd:#04x}", kind="unknown_op")


def _reply(body: bytes) -> bytes:
    return bytes((0xBB, _sum(body))) + body


def encode_status(status: GunStatus) -> bytes:
    """A 15-byte status reply: running at byte 4, RPM at bytes 13-14; the rest (force etc.) is zero."""
    body = bytearray(STATUS_REPLY_LEN - 2)
    body[0] = 0x10
    body[2] = 1 if status.running else 0
    body[11:13] = status.rpm.to_bytes(2, "big")
    return _reply(bytes(body))


def encode_version() -> bytes:
    """The version reply this simulator sends."""
    return _reply(b"\x20" + VERSION_BYTES)
