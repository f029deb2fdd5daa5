"""Keeson / Ergomotion bed bases: 8-byte key frames out, continuous status notifications back.

Facts from public reverse engineering (see ``docs/devices/keeson.md``): a command is
``E5 FE 16 <key bitmask, 32-bit little-endian> CK`` with ``CK = ~sum(bytes 0..6) & 0xFF``; keys
are button presses (massage levels move one step per press). The base notifies a status frame in
one of three forms (``ED`` 16 bytes, ``F0`` 19 bytes, ``F1`` 20 bytes), many of them with a bad or
stale checksum in real captures: those decode with ``checksum_ok=False`` rather than failing, and
:class:`StatusTally` counts them. Pure functions; only :class:`FrameError` escapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from massager_ctl.protocol.messages import FrameError

COMMAND_HEADER = bytes((0xE5, 0xFE, 0x16))
COMMAND_LEN = 8

# Key bits (32-bit mask, sent little-endian).
KEY_RELEASE = 0x00000000
KEY_HEAD_UP = 0x00000001
KEY_HEAD_DOWN = 0x00000002
KEY_FEET_UP = 0x00000004
KEY_FEET_DOWN = 0x00000008
KEY_MASSAGE_STEP = 0x00000100
KEY_TIMER_STEP = 0x00000200
KEY_FOOT_MASSAGE_UP = 0x00000400
KEY_HEAD_MASSAGE_UP = 0x00000800
KEY_ZERO_G = 0x00001000
KEY_LIGHT = 0x00020000
KEY_HEAD_MASSAGE_DOWN = 0x00800000
KEY_FOOT_MASSAGE_DOWN = 0x01000000
KEY_MASSAGE_OFF = 0x02000000
KEY_FLAT = 0x08000000
KEY_WAVE_STEP = 0x10000000

MAX_MASSAGE_LEVEL = 6
#: Timer setting byte -> minutes (``0xFF``: no timer running).
TIMER_MINUTES: dict[int, int] = {1: 10, 2: 20, 3: 30}
TIMER_NONE = 0xFF

StatusForm = Literal["ed", "f0", "f1"]
# form -> (header byte, length, offset of remaining time LE24, offset of the timer byte)
_FORMS: dict[StatusForm, tuple[int, int, int, int]] = {
    "ed": (0xED, 16, 9, 14),
    "f0": (0xF0, 19, 10, 15),
    "f1": (0xF1, 20, 9, 14),
}
_FORM_BY_HEADER: dict[int, StatusForm] = {spec[0]: form for form, spec in _FORMS.items()}


def checksum(body: bytes) -> int:
    """``~sum(body) & 0xFF``: the checksum of commands and status frames alike."""
    return ~sum(body) & 0xFF


@dataclass(frozen=True, slots=True)
class KeyPress:
    """One key frame: ``keys`` is the OR of the ``KEY_*`` bits (0 releases every key)."""

    keys: int


@dataclass(frozen=True, slots=True)
class KeesonStatus:
    """One status notification.

    Attributes:
        form: which of the three frame forms carried it.
        head_position: head actuator position (raw units).
        foot_position: foot actuator position (raw units).
        head_massage: head massage level 0-6.
        foot_massage: foot massage level 0-6.
        remaining_cs: massage time remaining in 1/100 s.
        timer_min: the massage timer setting (10, 20 or 30 min), ``None`` when no timer runs.
        motion: the low nibble of the motion byte as sent (bit 0 head, bit 1 foot; ``0xF`` idle);
            only the 16-byte form is known to carry it, else ``None``.
        led_on: the under-bed light (16-byte form only, else ``None``).
        checksum_ok: the frame's checksum matched; real bases often send bad or stale ones,
            so a mismatch is reported here, not raised.
    """

    form: StatusForm
    head_position: int
    foot_position: int
    head_massage: int
    foot_massage: int
    remaining_cs: int
    timer_min: int | None
    motion: int | None = None
    led_on: bool | None = None
    checksum_ok: bool = True

    @property
    def remaining_s(self) -> float:
        """Massage time remaining in seconds."""
        return self.remaining_cs / 100


def encode(message: KeyPress) -> bytes:
    """The 8-byte frame of a key press.

    Raises:
        FrameError: the key mask does not fit in 32 bits.
    """
    if not 0 <= message.keys <= 0xFFFFFFFF:
        raise FrameError(f"key mask {message.keys:#x} does not fit in 32 bits", kind="bad_value")
    body = COMMAND_HEADER + message.keys.to_bytes(4, "little")
    return body + bytes((checksum(body),))


def decode_command(frame: bytes) -> KeyPress:
    """Read a key frame back (for wire logs and tests).

    Raises:
        FrameError: not 8 bytes, a wrong header or a bad checksum.
    """
    if len(frame) != COMMAND_LEN:
        raise FrameError(f"a key frame is {COMMAND_LEN} bytes, got {len(frame)}", kind="bad_length")
    if frame[:3] != COMMAND_HEADER:
        raise FrameError(f"key frame header {frame[:3].hex(' ')} is not e5 fe 16", kind="bad_sync")
    if frame[7] != checksum(frame[:7]):
        raise FrameError(
            f"checksum {frame[7]:#04x}, expected {checksum(frame[:7]):#04x}", kind="bad_checksum"
        )
    return KeyPress(int.from_bytes(frame[3:7], "little"))


def decode_status(frame: bytes) -> KeesonStatus:
    """Decode a status notification, whatever its checksum says.

    Raises:
        FrameError: an unknown header, a length that does not fit the header, or a massage
            level outside 0-6 in a frame whose checksum is good.
    """
    if len(frame) < 3:
        raise FrameError(f"a status frame is at least 16 bytes, got {len(frame)}", kind="bad_length")
    form = _FORM_BY_HEADER.get(frame[0])
    if form is None or frame[1:3] != b"\xfe\x16":
        raise FrameError(f"status header {frame[:3].hex(' ')} is not ed/f0/f1 fe 16", kind="bad_sync")
    _, length, remaining_at, timer_at = _FORMS[form]
    if len(frame) != length:
        raise FrameError(f"a {form} status frame is {length} bytes, got {len(frame)}", kind="bad_length")
    ok = frame[-1] == checksum(frame[:-1])
    head_massage, foot_massage = frame[7], frame[8]
    if ok and max(head_massage, foot_massage) > MAX_MASSAGE_LEVEL:
        raise FrameError(f"massage levels {head_massage}/{foot_massage} exceed 6", kind="out_of_range")
    timer_byte = frame[timer_at]
    return KeesonStatus(
        form=form,
        head_position=int.from_bytes(frame[3:5], "little"),
        foot_position=int.from_bytes(frame[5:7], "little"),
        head_massage=head_massage,
        foot_massage=foot_massage,
        remaining_cs=int.from_bytes(frame[remaining_at : remaining_at + 3], "little"),
        timer_min=TIMER_MINUTES.get(timer_byte),
        motion=frame[13] & 0x0F if form == "ed" else None,
        led_on=bool(frame[13] & 0x40) if form == "ed" else None,
        checksum_ok=ok,
    )


@dataclass(slots=True)
class StatusTally:
    """Counts status frames by checksum outcome, so a wire log or a UI can show how noisy a base is.

    A failing frame that carries the checksum byte of the last good frame counts as ``stale``
    (the base updated the data but not its checksum); any other failing frame counts as ``bad``.
    """

    good: int = 0
    bad: int = 0
    stale: int = 0
    _last_good_checksum: int | None = None

    def add(self, frame: bytes, status: KeesonStatus) -> None:
        """Count one decoded frame (``frame`` is the bytes ``status`` was decoded from)."""
        if status.checksum_ok:
            self.good += 1
            self._last_good_checksum = frame[-1]
        elif frame[-1] == self._last_good_checksum:
            self.stale += 1
        else:
            self.bad += 1
