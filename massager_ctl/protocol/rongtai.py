"""Rongtai-family massage-chair board (RT6923): 5-byte key frames out, 17-byte status frames back.

Facts from one public firmware tree (see ``docs/devices/rongtai.md``), over a transparent
Bluetooth-UART bridge at 115200 8N1. Frames start with ``F0`` and end with ``F1``; every inner
byte is below ``0x80``, so :class:`FrameSplitter` can cut a byte stream without ambiguity.
Keys are button events (toggles), not settings. Pure functions; only :class:`FrameError` escapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from massager_ctl.protocol.messages import FrameError

START = 0xF0
END = 0xF1
CTRL_NORMAL = 0x82
KEY_LEN = 5
STATUS_LEN = 17
MAX_FRAME = STATUS_LEN

KEY_POWER = 0x01
KEY_KNEAD = 0x20
KEY_KNOCK = 0x21
KEY_PRESS = 0x22
KEY_TAP = 0x23
KEY_KNEAD_KNOCK = 0x24
KEY_HEAT_TOGGLE = 0x27
KEY_HEAT_LEVELS = (0x3C, 0x3D, 0x3E)  # min, medium, max
KEY_SPEEDS = (0x2E, 0x2F, 0x30, 0x31, 0x32, 0x33)  # speed 1..6
KEY_AREAS = (0x28, 0x29, 0x2A)  # partial, point, full
KEY_TIMERS = {10: 0x50, 20: 0x51, 30: 0x52}
KEY_AIR_ZONES = (0x40, 0x41, 0x42, 0x43, 0x44)
KEY_AIR_STRENGTHS = (0x45, 0x46, 0x47, 0x48, 0x49)
KEY_AIR_OFF = 0x4A
KEY_WALK_START = 0x60
KEY_WALK_STOP = 0x61

#: Technique numbers of status byte 1, bits 5-3.
TECHNIQUES: dict[int, str] = {1: "knead", 2: "knock", 3: "knead-knock", 4: "tap", 5: "press"}
TIMER_MINUTES: dict[int, int] = {1: 10, 2: 20, 3: 30}


def key_checksum(ctrl: int, key: int) -> int:
    return ~(ctrl + key) & 0x7F


def status_checksum(inner: bytes) -> int:
    return ~sum(inner) & 0x7F


@dataclass(frozen=True, slots=True)
class KeyPress:
    """One key event (``ctrl`` 0x82 is a normal press)."""

    key: int
    ctrl: int = CTRL_NORMAL


@dataclass(frozen=True, slots=True)
class ChairStatus:
    """The status frame the board sends to the Bluetooth link when something changes.

    Attributes:
        running: a program is running (byte 1 bit 6).
        technique: byte 1 bits 5-3 (see :data:`TECHNIQUES`; 0 none).
        program: byte 1 bits 2-0.
        heat_on: byte 2 bit 6.
        speed: byte 2 bits 4-2 (1-6; 0 stopped).
        width: byte 2 bits 1-0.
        remaining_s: seconds left on the massage timer (12 bits over bytes 4 and 5).
        body_scan: byte 9 bit 6.
        timer_min: byte 12 bits 1-0 as minutes, ``None`` when not set.
        raw: the 14 inner bytes as received, for fields not interpreted here.
    """

    running: bool
    technique: int
    program: int
    heat_on: bool
    speed: int
    width: int
    remaining_s: int
    body_scan: bool
    timer_min: int | None
    raw: bytes = field(default=b"", compare=False)


def encode(message: KeyPress) -> bytes:
    """The 5-byte frame of a key press.

    Raises:
        FrameError: a key at or above 0x80, or a ctrl byte outside 0x80-0xEF.
    """
    if not 0 <= message.key < 0x80:
        raise FrameError(f"key {message.key:#x} must be below 0x80", kind="bad_value")
    if not 0x80 <= message.ctrl <= 0xEF:
        raise FrameError(f"ctrl {message.ctrl:#x} is not a control byte", kind="bad_value")
    return bytes((START, message.ctrl, message.key, key_checksum(message.ctrl, message.key), END))


def decode_command(frame: bytes) -> KeyPress:
    """Read a key frame back (for wire logs and tests).

    Raises:
        FrameError: not 5 bytes, missing markers, a key at or above 0x80 or a bad checksum.
    """
    if len(frame) != KEY_LEN:
        raise FrameError(f"a key frame is {KEY_LEN} bytes, got {len(frame)}", kind="bad_length")
    if frame[0] != START or frame[-1] != END:
        raise FrameError("a key frame starts with f0 and ends with f1", kind="bad_sync")
    ctrl, key, ck = frame[1], frame[2], frame[3]
    if not 0x80 <= ctrl <= 0xEF or key >= 0x80:
        raise FrameError(f"ctrl {ctrl:#04x} / key {key:#04x} out of range", kind="bad_value")
    if ck != key_checksum(ctrl, key):
        raise FrameError(f"checksum {ck:#04x}, expected {key_checksum(ctrl, key):#04x}", kind="bad_checksum")
    return KeyPress(key=key, ctrl=ctrl)


def decode_status(frame: bytes) -> ChairStatus:
    """Decode a 17-byte status frame.

    Raises:
        FrameError: a wrong length or markers, an inner byte at or above 0x80, or a bad checksum.
    """
    if len(frame) != STATUS_LEN:
        raise FrameError(f"a status frame is {STATUS_LEN} bytes, got {len(frame)}", kind="bad_length")
    if frame[0] != START or frame[-1] != END:
        raise FrameError("a status frame starts with f0 and ends with f1", kind="bad_sync")
    inner, ck = frame[1:15], frame[15]
    if max(inner) >= 0x80 or ck >= 0x80:
        raise FrameError("an inner byte is at or above 0x80", kind="bad_value")
    if ck != status_checksum(inner):
        raise FrameError(f"checksum {ck:#04x}, expected {status_checksum(inner):#04x}", kind="bad_checksum")
    b = (0, *inner)  # b[1]..b[14] as the public description numbers them
    return ChairStatus(
        running=bool(b[1] & 0x40),
        technique=(b[1] >> 3) & 0x07,
        program=b[1] & 0x07,
        heat_on=bool(b[2] & 0x40),
        speed=(b[2] >> 2) & 0x07,
        width=b[2] & 0x03,
        remaining_s=(b[4] & 0x1F) << 7 | (b[5] & 0x7F),
        body_scan=bool(b[9] & 0x40),
        timer_min=TIMER_MINUTES.get(b[12] & 0x03),
        raw=bytes(inner),
    )


@dataclass(slots=True)
class FrameSplitter:
    """Cuts a serial byte stream into ``F0 … F1`` frames; bytes outside a frame are dropped.

    A run longer than a status frame without its end marker is cut off and returned as it is,
    so the decoder reports it instead of the splitter growing without bound.
    """

    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; returns every frame they complete."""
        frames: list[bytes] = []
        for byte in data:
            if byte == START:
                self._buffer = bytearray((START,))
            elif self._buffer:
                self._buffer.append(byte)
                if byte == END or len(self._buffer) >= MAX_FRAME + 1:
                    frames.append(bytes(self._buffer))
                    self._buffer = bytearray()
        return frames
