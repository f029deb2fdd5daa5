"""The ``mbin`` family: small checksummed binary frames (see ``docs/protocols.md``).

``A5 | SEQ | OP | LEN | PAYLOAD | CK`` with ``CK = ~(SEQ+OP+LEN+sum(PAYLOAD)) & 0xFF``.
Pure functions: :func:`encode` and :func:`decode` do no I/O and raise only
:class:`~massager_ctl.protocol.messages.FrameError` (a ``ProtocolError``).
"""

from __future__ import annotations

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
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    StatusReport,
    Stop,
    flag_fields,
)

SYNC = 0xA5
MAX_PAYLOAD = 15
NO_BATTERY = 0xFF

COMMAND_OPS: dict[CommandName, int] = {
    "hello": 0x01,
    "ping": 0x02,
    "set_intensity": 0x10,
    "set_head": 0x11,
    "set_heat": 0x12,
    "set_mode": 0x13,
    "set_direction": 0x14,
    "stop": 0x1F,
    "get_status": 0x20,
}
_OP_NAMES: dict[int, CommandName] = {op: name for name, op in COMMAND_OPS.items()}
OP_ACK, OP_IDENTITY, OP_STATUS, OP_NAK = 0x80, 0x81, 0x82, 0x8E

ERROR_CODES: dict[ErrorKind, int] = {
    "bad_checksum": 0x01,
    "bad_length": 0x02,
    "unknown_op": 0x03,
    "out_of_range": 0x04,
    "not_supported": 0x05,
    "refused": 0x06,
    "battery_empty": 0x07,
}
_ERROR_KINDS: dict[int, ErrorKind] = {code: kind for kind, code in ERROR_CODES.items()}


def checksum(seq: int, op: int, payload: bytes) -> int:
    return ~(seq + op + len(payload) + sum(payload)) & 0xFF


def _u8(value: int, what: str) -> int:
    if not 0 <= value <= 0xFF:
        raise FrameError(f"{what} {value} does not fit in one byte", kind="bad_value")
    return value


def frame(seq: int, op: int, payload: bytes = b"") -> bytes:
    """Build one frame around a raw payload.

    Raises:
        FrameError: seq/op out of byte range or a payload longer than 15 bytes.
    """
    if len(payload) > MAX_PAYLOAD:
        raise FrameError(f"payload of {len(payload)} bytes is longer than {MAX_PAYLOAD}", kind="bad_length")
    _u8(seq, "seq")
    _u8(op, "op")
    return bytes((SYNC, seq, op, len(payload))) + payload + bytes((checksum(seq, op, payload),))


def _payload(message: Message) -> tuple[int, bytes]:
    match message:
        case Hello() | Ping() | Stop() | GetStatus():
            return COMMAND_OPS[message.name], b""
        case (
            SetIntensity(level=v)
            | SetHead(code=v)
            | SetHeat(level=v)
            | SetMode(mode=v)
            | SetDirection(direction=v)
        ):
            return COMMAND_OPS[message.name], bytes((_u8(v, message.name),))
        case Ack(acked=name):
            return OP_ACK, bytes((COMMAND_OPS[name],))
        case Nak(error=kind, op=op):
            if kind not in ERROR_CODES:
                raise FrameError(f"error {kind!r} has no mbin code", kind="bad_value")
            return OP_NAK, bytes((_u8(op, "op"), ERROR_CODES[kind]))
        case IdentityReport():
            return OP_IDENTITY, _identity_payload(message)
        case StatusReport():
            battery = NO_BATTERY if message.battery is None else _u8(message.battery, "battery")
            fields = (message.head, message.intensity, message.heat, message.mode, message.direction)
            temp = round(message.temperature_c)
            return OP_STATUS, bytes(
                (message.flags, *(_u8(f, "status field") for f in fields), _u8(temp, "temperature"), battery)
            )


def _identity_payload(message: IdentityReport) -> bytes:
    major, dot, minor = message.firmware.partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise FrameError(f"firmware {message.firmware!r} is not MAJOR.MINOR", kind="bad_value")
    if len(message.serial) > 8 or not message.serial.isascii():
        raise FrameError(f"serial {message.serial!r} is not 0-8 ASCII characters", kind="bad_value")
    head = (message.protocol_version, message.model_code, int(major), int(minor))
    return bytes(_u8(v, "identity field") for v in head) + message.serial.encode("ascii")


def encode(message: Message) -> bytes:
    """The wire frame of a message.

    Raises:
        FrameError: a field does not fit its byte.
    """
    op, payload = _payload(message)
    return frame(message.seq, op, payload)


_PAYLOAD_LEN: dict[int, int] = {
    0x01: 0,
    0x02: 0,
    0x10: 1,
    0x11: 1,
    0x12: 1,
    0x13: 1,
    0x14: 1,
    0x1F: 0,
    0x20: 0,
    OP_ACK: 1,
    OP_STATUS: 8,
    OP_NAK: 2,
}


def decode(data: bytes, *, limits: Limits | None = None) -> Message:
    """Decode exactly one frame.

    Args:
        data: the frame's bytes.
        limits: when given, command arguments are checked against the model's ranges.

    Raises:
        FrameError: bad sync, length, checksum, unknown op, bad payload or out-of-range argument.
    """
    if len(data) < 5:
        raise FrameError(f"a frame needs at least 5 bytes, got {len(data)}", kind="bad_length")
    if data[0] != SYNC:
        raise FrameError(f"frame starts with 0x{data[0]:02x}, not 0xa5", kind="bad_sync")
    seq, op, length = data[1], data[2], data[3]
    if length > MAX_PAYLOAD or len(data) != 5 + length:
        raise FrameError(f"LEN {length} does not match a {len(data)}-byte frame", kind="bad_length")
    payload = data[4:-1]
    if checksum(seq, op, payload) != data[-1]:
        raise FrameError(
            f"checksum 0x{data[-1]:02x}, expected 0x{checksum(seq, op, payload):02x}", kind="bad_checksum"
        )
    if op == OP_IDENTITY:
        return _decode_identity(seq, payload)
    expected = _PAYLOAD_LEN.get(op)
    if expected is None:
        raise FrameError(f"unknown op 0x{op:02x}", kind="unknown_op")
    if length != expected:
        raise FrameError(f"op 0x{op:02x} takes {expected} payload bytes, got {length}", kind="bad_length")
    if op == OP_ACK:
        return Ack(acked=_command_name(payload[0]), seq=seq)
    if op == OP_NAK:
        kind = _ERROR_KINDS.get(payload[1])
        if kind is None:
            raise FrameError(f"unknown error code 0x{payload[1]:02x}", kind="bad_value")
        return Nak(error=kind, op=payload[0], seq=seq)
    if op == OP_STATUS:
        return _decode_status(seq, payload)
    command = _decode_command(_OP_NAMES[op], seq, payload)
    if limits is not None:
        limits.check(command)
    return command


def _command_name(op: int) -> CommandName:
    name = _OP_NAMES.get(op)
    if name is None:
        raise FrameError(f"ack of unknown op 0x{op:02x}", kind="unknown_op")
    return name


def _decode_command(name: CommandName, seq: int, payload: bytes) -> Command:
    match name:
        case "hello":
            return Hello(seq=seq)
        case "ping":
            return Ping(seq=seq)
        case "stop":
            return Stop(seq=seq)
        case "get_status":
            return GetStatus(seq=seq)
        case "set_intensity":
            return SetIntensity(level=payload[0], seq=seq)
        case "set_head":
            return SetHead(code=payload[0], seq=seq)
        case "set_heat":
            return SetHeat(level=payload[0], seq=seq)
        case "set_mode":
            return SetMode(mode=payload[0], seq=seq)
        case "set_direction":
            return SetDirection(direction=payload[0], seq=seq)


def _decode_identity(seq: int, payload: bytes) -> IdentityReport:
    if not 4 <= len(payload) <= 12:
        raise FrameError(f"identity takes 4-12 payload bytes, got {len(payload)}", kind="bad_length")
    serial = payload[4:]
    if any(not 0x20 <= b <= 0x7E for b in serial):
        raise FrameError("serial number is not printable ASCII", kind="bad_value")
    return IdentityReport(
        model_code=payload[1],
        firmware=f"{payload[2]}.{payload[3]}",
        serial=serial.decode("ascii"),
        protocol_version=payload[0],
        seq=seq,
    )


def _decode_status(seq: int, payload: bytes) -> StatusReport:
    flags, head, intensity, heat, mode, direction, temperature, battery = payload
    return StatusReport(
        motor=bool(flags & 0x01),
        head=head,
        intensity=intensity,
        heat=heat,
        mode=mode,
        temperature_c=float(temperature),
        direction=direction,
        battery=None if battery == NO_BATTERY else battery,
        seq=seq,
        **flag_fields(flags),
    )
