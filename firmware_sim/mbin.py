"""The ``mbin`` binary frame codec, device side (``docs/protocols.md``, "mbin").

Pure functions, no I/O. A frame is ``A5 SEQ OP LEN PAYLOAD CK`` with ``CK = ~(SEQ+OP+LEN+sum(PAYLOAD))``.
Commands travel to the device; :class:`Ack`, :class:`Identity`, :class:`Status` and :class:`Nak` travel
back. Both directions decode and encode, so the simulator's tests can read what it sends.
"""

from __future__ import annotations

from dataclasses import dataclass
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

SYNC = 0xA5
HEADER_LEN = 4
MIN_FRAME = 5
MAX_PAYLOAD = 15
NO_BATTERY = 0xFF

#: Controller → device op codes by command class.
COMMAND_OPS: dict[type[Command], int] = {
    Hello: 0x01,
    Ping: 0x02,
    SetIntensity: 0x10,
    SetHead: 0x11,
    SetHeat: 0x12,
    SetMode: 0x13,
    SetDirection: 0x14,
    Stop: 0x1F,
    GetStatus: 0x20,
}
_COMMAND_BY_OP = {op: cls for cls, op in COMMAND_OPS.items()}
OP_NAMES: dict[int, str] = {op: cls.TYPE for cls, op in COMMAND_OPS.items()}
_OP_BY_NAME = {name: op for op, name in OP_NAMES.items()}

OP_ACK = 0x80
OP_IDENTITY = 0x81
OP_STATUS = 0x82
OP_NAK = 0x8E

ERROR_CODES: dict[str, int] = {
    "bad_checksum": 0x01,
    "bad_length": 0x02,
    "unknown_op": 0x03,
    "out_of_range": 0x04,
    "not_supported": 0x05,
    "refused": 0x06,
    "battery_empty": 0x07,
}
_ERROR_NAMES = {code: name for name, code in ERROR_CODES.items()}


@dataclass(frozen=True, slots=True)
class Ack:
    TYPE: ClassVar[str] = "ack"
    seq: int
    acked: str


@dataclass(frozen=True, slots=True)
class Identity:
    TYPE: ClassVar[str] = "identity"
    seq: int
    protocol_version: int
    model_code: int
    fw_major: int
    fw_minor: int
    serial: str


@dataclass(frozen=True, slots=True)
class Status:
    TYPE: ClassVar[str] = "status"
    seq: int
    motor: bool
    heat_on: bool
    watchdog_tripped: bool
    low_battery: bool
    overheat: bool
    heat_auto_off: bool
    head: int
    intensity: int
    heat: int
    mode: int
    direction: int
    temperature_c: int
    battery: int | None


@dataclass(frozen=True, slots=True)
class Nak:
    TYPE: ClassVar[str] = "nak"
    seq: int
    op: int
    error: str


Reply = Ack | Identity | Status | Nak


def checksum(seq: int, op: int, payload: bytes) -> int:
    """The inverted 8-bit sum over SEQ, OP, LEN and the payload (the sync byte is not summed)."""
    return ~(seq + op + len(payload) + sum(payload)) & 0xFF


def encode_frame(seq: int, op: int, payload: bytes = b"") -> bytes:
    """One frame on the wire.

    Raises:
        ValueError: seq or op is not a byte, or the payload is longer than 15 bytes.
    """
    if not (0 <= seq <= 0xFF and 0 <= op <= 0xFF):
        raise ValueError(f"seq {seq} and op {op} must be bytes")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return bytes((SYNC, seq, op, len(payload))) + payload + bytes((checksum(seq, op, payload),))


def decode_frame(data: bytes) -> tuple[int, int, bytes]:
    """Split one frame into ``(seq, op, payload)`` after checking sync, length and checksum.

    Raises:
        FrameError: ``bad_length`` (too short, or the length byte disagrees with the frame),
            ``bad_sync`` (first byte not 0xA5), ``bad_checksum``.
    """
    if len(data) < MIN_FRAME:
        raise FrameError(f"frame of {len(data)} bytes is shorter than {MIN_FRAME}", kind="bad_length")
    if data[0] != SYNC:
        raise FrameError(f"frame starts with 0x{data[0]:02x}, not 0xa5", kind="bad_sync")
    seq, op, length = data[1], data[2], data[3]
    if length > MAX_PAYLOAD or len(data) != MIN_FRAME + length:
        raise FrameError(
            f"length byte {length} does not match a {len(data)}-byte frame", kind="bad_length", seq=seq, op=op
        )
    payload = bytes(data[HEADER_LEN:-1])
    expected = checksum(seq, op, payload)
    if data[-1] != expected:
        raise FrameError(
            f"checksum 0x{data[-1]:02x} should be 0x{expected:02x}", kind="bad_checksum", seq=seq, op=op
        )
    return seq, op, payload


def encode_command(seq: int, command: Command) -> bytes:
    """A controller → device frame.

    Raises:
        ValueError: an argument does not fit in a byte.
    """
    match command:
        case SetIntensity(level=value) | SetHeat(level=value) | SetHead(code=value):
            args: tuple[int, ...] = (value,)
        case SetMode(mode=value) | SetDirection(direction=value):
            args = (value,)
        case _:
            args = ()
    if any(not 0 <= a <= 0xFF for a in args):
        raise ValueError(f"{command.TYPE} argument {args} does not fit in a byte")
    return encode_frame(seq, COMMAND_OPS[type(command)], bytes(args))


def decode_command(data: bytes) -> tuple[int, Command]:
    """A controller → device frame as ``(seq, command)``.

    Raises:
        FrameError: the frame is damaged (see :func:`decode_frame`), its op is unknown (``unknown_op``) or
            its payload has the wrong length for the op (``bad_length``).
    """
    seq, op, payload = decode_frame(data)
    cls = _COMMAND_BY_OP.get(op)
    if cls is None:
        raise FrameError(f"unknown op 0x{op:02x}", kind="unknown_op", seq=seq, op=op)
    takes_arg = cls in (SetIntensity, SetHead, SetHeat, SetMode, SetDirection)
    if len(payload) != (1 if takes_arg else 0):
        raise FrameError(
            f"{cls.TYPE} takes {int(takes_arg)} payload bytes, got {len(payload)}",
            kind="bad_length",
            seq=seq,
            op=op,
        )
    command: Command = cls(payload[0]) if takes_arg else cls()  # type: ignore[call-arg]
    return seq, command


def encode_reply(reply: Reply) -> bytes:
    """A device → controller frame.

    Raises:
        ValueError: a field does not fit the wire format (unknown op or error name, serial too long).
    """
    match reply:
        case Ack(seq=seq, acked=acked):
            if acked not in _OP_BY_NAME:
                raise ValueError(f"cannot ack unknown command {acked!r}")
            return encode_frame(seq, OP_ACK, bytes((_OP_BY_NAME[acked],)))
        case Identity():
            serial = reply.serial.encode("ascii")
            if len(serial) > 8:
                raise ValueError(f"serial {reply.serial!r} is longer than 8 bytes")
            head = (reply.protocol_version, reply.model_code, reply.fw_major, reply.fw_minor)
            return encode_frame(reply.seq, OP_IDENTITY, bytes(head) + serial)
        case Status():
            flags = pack_flags(
                motor=reply.motor,
                heat_on=reply.heat_on,
                watchdog_tripped=reply.watchdog_tripped,
                low_battery=reply.low_battery,
                overheat=reply.overheat,
                heat_auto_off=reply.heat_auto_off,
            )
            battery = NO_BATTERY if reply.battery is None else reply.battery
            fields = (flags, reply.head, reply.intensity, reply.heat, reply.mode, reply.direction)
            return encode_frame(reply.seq, OP_STATUS, bytes((*fields, reply.temperature_c, battery)))
        case Nak(seq=seq, op=op, error=error):
            if error not in ERROR_CODES:
                raise ValueError(f"unknown error name {error!r}")
            return encode_frame(seq, OP_NAK, bytes((op, ERROR_CODES[error])))
    raise ValueError(f"not an mbin reply: {reply!r}")  # pragma: no cover - exhaustive match


def decode_reply(data: bytes) -> Reply:
    """A device → controller frame.

    Raises:
        FrameError: the frame is damaged, its op is not a reply op (``unknown_op``), its payload has the
            wrong length (``bad_length``) or names an unknown op or error code (``bad_payload``).
    """
    seq, op, payload = decode_frame(data)

    def need(count: int) -> None:
        if len(payload) != count:
            raise FrameError(
                f"op 0x{op:02x} needs {count} payload bytes, got {len(payload)}",
                kind="bad_length",
                seq=seq,
                op=op,
            )

    if op == OP_ACK:
        need(1)
        if payload[0] not in OP_NAMES:
            raise FrameError(f"ack of unknown op 0x{payload[0]:02x}", kind="bad_payload", seq=seq, op=op)
        return Ack(seq, OP_NAMES[payload[0]])
    if op == OP_IDENTITY:
        if not 4 <= len(payload) <= 12:
            raise FrameError(f"identity with {len(payload)} payload bytes", kind="bad_length", seq=seq, op=op)
        serial = payload[4:]
        if any(not 0x20 <= b <= 0x7E for b in serial):
            raise FrameError("identity serial is not printable ASCII", kind="bad_payload", seq=seq, op=op)
        return Identity(seq, payload[0], payload[1], payload[2], payload[3], serial.decode("ascii"))
    if op == OP_STATUS:
        need(8)
        flags, head, intensity, heat, mode, direction, temperature, battery = payload
        return Status(
            seq,
            **unpack_flags(flags),
            head=head,
            intensity=intensity,
            heat=heat,
            mode=mode,
            direction=direction,
            temperature_c=temperature,
            battery=None if battery == NO_BATTERY else battery,
        )
    if op == OP_NAK:
        need(2)
        if payload[1] not in _ERROR_NAMES:
            raise FrameError(
                f"nak with unknown error code 0x{payload[1]:02x}", kind="bad_payload", seq=seq, op=op
            )
        return Nak(seq, payload[0], _ERROR_NAMES[payload[1]])
    raise FrameError(f"op 0x{op:02x} is not a device reply", kind="unknown_op", seq=seq, op=op)


def nak_for(error: FrameError) -> Nak:
    """The nak the device answers a rejected frame with.

    A frame too short or with a wrong sync byte is ``nak(0, 0, bad_length)``; otherwise the nak echoes
    the frame's SEQ and OP bytes.
    """
    if error.kind == "bad_sync":
        return Nak(0, 0, "bad_length")
    kind = error.kind if error.kind in ERROR_CODES else "bad_length"
    return Nak(error.seq, error.op, kind)
