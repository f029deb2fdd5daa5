"""The ``mascii`` line codec, device side (``docs/protocols.md``, "mascii").

Pure, no I/O. Controller lines are ``$BODY*HH``, device lines ``!BODY*HH``, each ended by ``\\r\\n``
(the device also accepts a bare ``\\n``). ``HH`` is the XOR of the body's bytes in hex.
:class:`LineAssembler` cuts a byte stream into lines and flags over-long ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from firmware_sim.messages import (
    Command,
    FrameError,
    GetStatus,
    Hello,
    Ping,
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    Stop,
    pack_flags,
    unpack_flags,
)

MAX_LINE = 64
_HEX = frozenset(b"0123456789abcdefABCDEF")
_RESERVED = frozenset(b"$!*")

#: Command words by command class. ``DIR`` selects a direction on models that have one.
COMMAND_WORDS: dict[type[Command], str] = {
    Hello: "ID",
    Ping: "PING",
    SetIntensity: "INT",
    SetHead: "ZONE",
    SetHeat: "HEAT",
    SetMode: "MODE",
    SetDirection: "DIR",
    Stop: "STOP",
    GetStatus: "STAT",
}
_COMMAND_BY_WORD = {word: cls for cls, word in COMMAND_WORDS.items()}
WORD_BY_TYPE: dict[str, str] = {cls.TYPE: word for cls, word in COMMAND_WORDS.items()}
_TYPE_BY_WORD = {word: name for name, word in WORD_BY_TYPE.items()}
_TAKES_ARG = (SetIntensity, SetHead, SetHeat, SetMode, SetDirection)

#: Wire error codes by common error name. mascii has no battery code: an empty battery is ``REFUSED``.
ERROR_WORDS: dict[str, str] = {
    "bad_checksum": "CHK",
    "syntax": "SYNTAX",
    "unknown_op": "UNKNOWN",
    "out_of_range": "RANGE",
    "not_supported": "UNSUPPORTED",
    "refused": "REFUSED",
    "bad_length": "LEN",
}
_ERROR_BY_WORD = {word: name for name, word in ERROR_WORDS.items()}


@dataclass(frozen=True, slots=True)
class Ack:
    TYPE: ClassVar[str] = "ack"
    acked: str


@dataclass(frozen=True, slots=True)
class Identity:
    TYPE: ClassVar[str] = "identity"
    model_code: int
    firmware: str
    serial: str


@dataclass(frozen=True, slots=True)
class Status:
    TYPE: ClassVar[str] = "status"
    motor: bool
    head: int
    intensity: int
    heat: int
    mode: int
    temperature_c: float
    heat_on: bool
    watchdog_tripped: bool
    low_battery: bool
    overheat: bool
    heat_auto_off: bool


@dataclass(frozen=True, slots=True)
class Nak:
    TYPE: ClassVar[str] = "nak"
    error: str
    command: str | None


Reply = Ack | Identity | Status | Nak


def checksum(body: bytes) -> int:
    """XOR of every byte of the body."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def _line(lead: str, body: str) -> bytes:
    raw = body.encode("ascii")
    if any(b in _RESERVED or not 0x20 <= b <= 0x7E for b in raw):
        raise ValueError(f"body {body!r} must be printable ASCII without $, ! or *")
    return f"{lead}{body}*{checksum(raw):02X}\r\n".encode("ascii")


def _split(line: bytes, lead: int) -> bytes:
    """Check framing and checksum; return the body.

    Raises:
        FrameError: ``bad_length``, ``syntax`` or ``bad_checksum``, with no command named.
    """
    if len(line) > MAX_LINE:
        raise FrameError(f"line of {len(line)} bytes exceeds {MAX_LINE}", kind="bad_length")
    text = line[:-1] if line.endswith(b"\n") else line
    text = text[:-1] if text.endswith(b"\r") else text
    if any(not 0x20 <= b <= 0x7E for b in text):
        raise FrameError("line holds a byte that is not printable ASCII", kind="syntax")
    if not text.startswith(bytes((lead,))):
        raise FrameError(f"line does not start with {chr(lead)!r}", kind="syntax")
    star = text.rfind(b"*")
    if star < 0:
        raise FrameError("line has no '*' checksum", kind="syntax")
    body, digits = text[1:star], text[star + 1 :]
    if len(digits) != 2 or any(b not in _HEX for b in digits):
        raise FrameError(f"checksum {digits.decode()!r} is not two hex digits", kind="syntax")
    if any(b in _RESERVED for b in body):
        raise FrameError("body holds '$', '!' or '*'", kind="syntax")
    expected = checksum(body)
    if int(digits, 16) != expected:
        raise FrameError(f"checksum {digits.decode()} should be {expected:02X}", kind="bad_checksum")
    return body


def _number(text: str, word: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise FrameError(f"{word} argument {text!r} is not a number", kind="syntax", command=word)
    return int(text)


def encode_command(command: Command) -> bytes:
    """A controller → device line.

    Raises:
        ValueError: a negative argument.
    """
    word = COMMAND_WORDS[type(command)]
    match command:
        case SetIntensity(level=value) | SetHeat(level=value) | SetHead(code=value):
            args: tuple[int, ...] = (value,)
        case SetMode(mode=value) | SetDirection(direction=value):
            args = (value,)
        case _:
            args = ()
    if any(a < 0 for a in args):
        raise ValueError(f"{word} argument {args} is negative")
    return _line("$", ",".join([word, *map(str, args)]))


def decode_command(line: bytes) -> Command:
    """A controller → device line (terminator optional).

    Raises:
        FrameError: ``bad_length`` (over 64 bytes), ``syntax`` (framing, non-ASCII, bad checksum digits,
            missing or non-numeric argument), ``bad_checksum``, ``unknown_op`` (the command is named).
    """
    body = _split(line, ord("$")).decode("ascii")
    word, *args = body.split(",")
    if not word:
        raise FrameError("empty command", kind="syntax")
    cls = _COMMAND_BY_WORD.get(word)
    if cls is None:
        raise FrameError(f"unknown command {word!r}", kind="unknown_op", command=word)
    wanted = 1 if cls in _TAKES_ARG else 0
    if len(args) != wanted:
        raise FrameError(f"{word} takes {wanted} arguments, got {len(args)}", kind="syntax", command=word)
    if wanted:
        return cls(_number(args[0], word))  # type: ignore[call-arg]
    return cls()  # type: ignore[call-arg]


def encode_reply(reply: Reply) -> bytes:
    """A device → controller line.

    Raises:
        ValueError: an unknown command or error name, or a field that breaks the line format.
    """
    match reply:
        case Ack(acked=acked):
            if acked not in WORD_BY_TYPE:
                raise ValueError(f"cannot ack unknown command {acked!r}")
            return _line("!", f"OK,{WORD_BY_TYPE[acked]}")
        case Identity(model_code=code, firmware=firmware, serial=serial):
            return _line("!", f"ID,{code:02X},{firmware},{serial}")
        case Status():
            flags = pack_flags(
                motor=reply.motor,
                heat_on=reply.heat_on,
                watchdog_tripped=reply.watchdog_tripped,
                low_battery=reply.low_battery,
                overheat=reply.overheat,
                heat_auto_off=reply.heat_auto_off,
            )
            fields = (int(reply.motor), reply.head, reply.intensity, reply.heat, reply.mode)
            return _line("!", "ST," + ",".join(map(str, fields)) + f",{reply.temperature_c:.1f},{flags:02X}")
        case Nak(error=error, command=command):
            if error not in ERROR_WORDS:
                raise ValueError(f"unknown error name {error!r}")
            head = f"ER,{ERROR_WORDS[error]},"
            # an unknown word is echoed as received; cut it so the error line keeps the 64-byte limit
            room = MAX_LINE - len(f"!{head}*HH\r\n")
            return _line("!", head + (command or "-")[:room])
    raise ValueError(f"not an mascii reply: {reply!r}")  # pragma: no cover - exhaustive match


def decode_reply(line: bytes) -> Reply:
    """A device → controller line (terminator optional).

    Raises:
        FrameError: damaged framing (as :func:`decode_command`), an unknown reply word (``unknown_op``)
            or malformed fields (``syntax``).
    """
    body = _split(line, ord("!")).decode("ascii")
    word, *args = body.split(",")
    try:
        if word == "OK" and len(args) == 1 and args[0] in _TYPE_BY_WORD:
            return Ack(_TYPE_BY_WORD[args[0]])
        if word == "ID" and len(args) == 3:
            return Identity(int(args[0], 16), args[1], args[2])
        if word == "ST" and len(args) == 7:
            motor, head, intensity, heat, mode = (_number(a, word) for a in args[:5])
            flags = unpack_flags(int(args[6], 16))
            del flags["motor"]
            return Status(bool(motor), head, intensity, heat, mode, float(args[5]), **flags)
        if word == "ER" and len(args) == 2 and args[0] in _ERROR_BY_WORD:
            return Nak(_ERROR_BY_WORD[args[0]], None if args[1] == "-" else args[1])
    except ValueError as e:
        raise FrameError(f"malformed {word} reply: {e}", kind="syntax", command=word) from e
    if word in ("OK", "ID", "ST", "ER"):
        raise FrameError(f"malformed {word} reply {body!r}", kind="syntax", command=word)
    raise FrameError(f"unknown reply {word!r}", kind="unknown_op", command=word or None)


def nak_for(error: FrameError) -> Nak:
    """The error line the device answers a rejected line with."""
    kind = error.kind if error.kind in ERROR_WORDS else "syntax"
    return Nak(kind, error.command)


@dataclass(slots=True)
class LineAssembler:
    """Cuts a byte stream into lines at ``\\n``.

    A line longer than :data:`MAX_LINE` bytes is not kept: its bytes are dropped up to the next ``\\n``
    and :meth:`feed` yields ``None`` in its place, so memory stays bounded whatever arrives.
    """

    _buffer: bytearray = field(default_factory=bytearray)
    _too_long: bool = False

    def feed(self, data: bytes) -> list[bytes | None]:
        """Complete lines (with their terminator) found so far, ``None`` for each over-long one."""
        lines: list[bytes | None] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            chunk = data[start:] if end < 0 else data[start : end + 1]
            if not self._too_long:
                self._buffer += chunk
                if len(self._buffer) > MAX_LINE:
                    self._too_long = True
                    self._buffer.clear()
            if end < 0:
                return lines
            lines.append(None if self._too_long else bytes(self._buffer))
            self._buffer.clear()
            self._too_long = False
            start = end + 1

    def reset(self) -> None:
        """Forget a partial line (the link went down)."""
        self._buffer.clear()
        self._too_long = False
