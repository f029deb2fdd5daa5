"""The ``mascii`` family: NMEA-style checksummed ASCII lines (see ``docs/protocols.md``).

``$BODY*HH\\r\\n`` to the device, ``!BODY*HH\\r\\n`` back; ``HH`` is the XOR of
``BODY``. Pure code: :func:`encode`, :func:`decode` and :class:`LineSplitter`
do no I/O and raise only :class:`~massager_ctl.protocol.messages.FrameError`.
"""

from __future__ import annotations

import re

from massager_ctl.protocol.messages import (
    Ack,
    Command,
    CommandName,
    ErrorKind,
    FrameError,
    GetStatus,
    Hello,
    IdentityReport,
    Limits,
    Message,
    Nak,
    Ping,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    StatusReport,
    Stop,
    flag_fields,
)

MAX_LINE = 64

WORDS: dict[CommandName, str] = {
    "hello": "ID",
    "ping": "PING",
    "set_intensity": "INT",
    "set_head": "ZONE",
    "set_heat": "HEAT",
    "set_mode": "MODE",
    "stop": "STOP",
    "get_status": "STAT",
}
_NAMES: dict[str, CommandName] = {word: name for name, word in WORDS.items()}
_ARGS: dict[str, int] = {"ID": 0, "PING": 0, "INT": 1, "ZONE": 1, "HEAT": 1, "MODE": 1, "STOP": 0, "STAT": 0}
ERROR_WORDS: dict[ErrorKind, str] = {
    "bad_checksum": "CHK",
    "syntax": "SYNTAX",
    "unknown_op": "UNKNOWN",
    "out_of_range": "RANGE",
    "not_supported": "UNSUPPORTED",
    "refused": "REFUSED",
    "bad_length": "LEN",
}
_ERROR_KINDS: dict[str, ErrorKind] = {word: kind for kind, word in ERROR_WORDS.items()}

_INT = re.compile(r"[0-9]{1,3}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_TEMP = re.compile(r"-?[0-9]{1,3}\.[0-9]")
_FIELD = re.compile(r"[ -~]*")


def checksum(body: str) -> int:
    value = 0
    for char in body.encode("ascii"):
        value ^= char
    return value


def _line(lead: str, fields: list[str]) -> bytes:
    body = ",".join(fields)
    if not _FIELD.fullmatch(body) or any(c in body for c in "$!*"):
        raise FrameError(f"{body!r} is not printable ASCII without $ ! *", kind="bad_value")
    line = f"{lead}{body}*{checksum(body):02X}\r\n".encode("ascii")
    if len(line) > MAX_LINE:
        raise FrameError(f"line of {len(line)} bytes is longer than {MAX_LINE}", kind="bad_length")
    return line


def encode(message: Message) -> bytes:
    """The wire line of a message, ``\\r\\n`` included.

    Raises:
        FrameError: the message has no ``mascii`` form (set_direction) or a field is not valid.
    """
    match message:
        case Hello() | Ping() | Stop() | GetStatus():
            return _line("$", [WORDS[message.name]])
        case SetIntensity(level=v) | SetHead(code=v) | SetHeat(level=v) | SetMode(mode=v):
            if v < 0:
                raise FrameError(f"{message.name} argument {v} is negative", kind="bad_value")
            return _line("$", [WORDS[message.name], str(v)])
        case Ack(acked=name):
            if name not in WORDS:
                raise FrameError(f"mascii has no {name} command", kind="not_supported")
            return _line("!", ["OK", WORDS[name]])
        case Nak(error=kind, command=command):
            if kind not in ERROR_WORDS:
                raise FrameError(f"error {kind!r} has no mascii word", kind="bad_value")
            return _line("!", ["ER", ERROR_WORDS[kind], command or "-"])
        case IdentityReport():
            return _line("!", ["ID", f"{message.model_code:02X}", message.firmware, message.serial])
        case StatusReport():
            fields = [int(message.motor), message.head, message.intensity, message.heat, message.mode]
            return _line(
                "!", ["ST", *map(str, fields), f"{message.temperature_c:.1f}", f"{message.flags:02X}"]
            )
        case _:
            raise FrameError(f"mascii has no {message.name} command", kind="not_supported")


def decode(line: bytes, *, limits: Limits | None = None) -> Message:
    """Decode one line (with or without its terminator).

    Args:
        line: the line's bytes.
        limits: when given, command arguments are checked against the model's ranges.

    Raises:
        FrameError: too long, not ASCII, bad framing or checksum, unknown command, bad arguments.
    """
    if len(line) > MAX_LINE:
        raise FrameError(f"line of {len(line)} bytes is longer than {MAX_LINE}", kind="bad_length")
    raw = line.removesuffix(b"\n").removesuffix(b"\r")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        raise FrameError("line holds a non-ASCII byte", kind="syntax") from e
    if not text or text[0] not in "$!" or not _FIELD.fullmatch(text):
        raise FrameError(f"{text[:20]!r} does not start with $ or ! or is not printable", kind="syntax")
    body, star, check = text[1:].rpartition("*")
    if not star or not _HEX2.fullmatch(check) or any(c in body for c in "$!*"):
        raise FrameError(f"{text[:20]!r} has no valid *HH checksum", kind="syntax")
    if int(check, 16) != checksum(body):
        raise FrameError(f"checksum {check}, expected {checksum(body):02X}", kind="bad_checksum")
    fields = body.split(",")
    if text[0] == "$":
        command = _decode_command(fields)
        if limits is not None:
            limits.check(command)
        return command
    return _decode_reply(fields)


def _number(field: str) -> int:
    if not _INT.fullmatch(field):
        raise FrameError(f"{field!r} is not a number", kind="syntax")
    return int(field)


def _decode_command(fields: list[str]) -> Command:
    word, args = fields[0], fields[1:]
    if word not in _ARGS:
        raise FrameError(f"unknown command {word!r}", kind="unknown_op")
    if len(args) != _ARGS[word]:
        raise FrameError(f"{word} takes {_ARGS[word]} argument(s), got {len(args)}", kind="syntax")
    match word:
        case "ID":
            return Hello()
        case "PING":
            return Ping()
        case "STOP":
            return Stop()
        case "STAT":
            return GetStatus()
        case "INT":
            return SetIntensity(level=_number(args[0]))
        case "ZONE":
            return SetHead(code=_number(args[0]))
        case "HEAT":
            return SetHeat(level=_number(args[0]))
        case _:
            return SetMode(mode=_number(args[0]))


def _decode_reply(fields: list[str]) -> Message:
    word, args = fields[0], fields[1:]
    match word, len(args):
        case "OK", 1:
            name = _NAMES.get(args[0])
            if name is None:
                raise FrameError(f"ok to unknown command {args[0]!r}", kind="unknown_op")
            return Ack(acked=name)
        case "ER", 2:
            kind = _ERROR_KINDS.get(args[0])
            if kind is None:
                raise FrameError(f"unknown error word {args[0]!r}", kind="bad_value")
            return Nak(error=kind, command=None if args[1] == "-" else args[1])
        case "ID", 3:
            if not _HEX2.fullmatch(args[0]):
                raise FrameError(f"model code {args[0]!r} is not two hex digits", kind="syntax")
            return IdentityReport(model_code=int(args[0], 16), firmware=args[1], serial=args[2])
        case "ST", 7:
            return _decode_status(args)
        case (("OK" | "ER" | "ID" | "ST"), _):
            raise FrameError(f"{word} reply with {len(args)} fields", kind="syntax")
        case _:
            raise FrameError(f"unknown reply {word!r}", kind="unknown_op")


def _decode_status(args: list[str]) -> StatusReport:
    motor, head, intensity, heat, mode, temperature, flags = args
    if motor not in ("0", "1"):
        raise FrameError(f"motor {motor!r} is not 0 or 1", kind="syntax")
    if not _TEMP.fullmatch(temperature):
        raise FrameError(f"temperature {temperature!r} is not a number with one decimal", kind="syntax")
    if not _HEX2.fullmatch(flags):
        raise FrameError(f"flags {flags!r} are not two hex digits", kind="syntax")
    return StatusReport(
        motor=motor == "1",
        head=_number(head),
        intensity=_number(intensity),
        heat=_number(heat),
        mode=_number(mode),
        temperature_c=float(temperature),
        **flag_fields(int(flags, 16)),
    )


class LineSplitter:
    """Cut a byte stream into lines of at most :data:`MAX_LINE` bytes.

    A run longer than that without a newline is passed on cut at ``MAX_LINE + 1``
    bytes (so :func:`decode` rejects it as ``bad_length``) and the rest is
    dropped up to the next newline, as the device does.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every complete line, terminator included."""
        lines: list[bytes] = []
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if not self._discarding and len(self._buffer) > MAX_LINE:
                    lines.append(bytes(self._buffer[: MAX_LINE + 1]))
                    self._discarding = True
                if self._discarding:
                    self._buffer.clear()
                return lines
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            if self._discarding:
                self._discarding = False
            else:
                lines.append(line)
