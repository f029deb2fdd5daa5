"""Commands the firmware understands and the status flags it reports, common to both protocol families.

The simulator implements ``docs/protocols.md`` on its own, like a separate vendor would: nothing here
comes from ``massager_ctl``'s codecs. Only the error tree is shared, so a malformed frame surfaces as the
project's :class:`~massager_ctl.errors.ProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from massager_ctl.errors import ProtocolError

#: Status flag bits, bit 0 first (``docs/protocols.md``, "Status flags").
FLAG_NAMES: tuple[str, ...] = (
    "motor",
    "heat_on",
    "watchdog_tripped",
    "low_battery",
    "overheat",
    "heat_auto_off",
)


class FrameError(ProtocolError):
    """A frame or line the codec rejects.

    Attributes:
        kind: the common error name (``bad_checksum``, ``bad_length``, ``bad_sync``, ``unknown_op``,
            ``syntax``, ``bad_payload``).
        seq: mbin sequence byte to echo in the nak (0 when the frame was too damaged to tell).
        op: mbin op byte to echo in the nak (0 when too damaged).
        command: mascii command word to name in the error reply (``None`` when too damaged).
    """

    def __init__(
        self, message: str, *, kind: str, seq: int = 0, op: int = 0, command: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.seq = seq
        self.op = op
        self.command = command


@dataclass(frozen=True, slots=True)
class Hello:
    TYPE: ClassVar[str] = "hello"


@dataclass(frozen=True, slots=True)
class Ping:
    TYPE: ClassVar[str] = "ping"


@dataclass(frozen=True, slots=True)
class SetIntensity:
    TYPE: ClassVar[str] = "set_intensity"
    level: int


@dataclass(frozen=True, slots=True)
class SetHead:
    TYPE: ClassVar[str] = "set_head"
    code: int


@dataclass(frozen=True, slots=True)
class SetHeat:
    TYPE: ClassVar[str] = "set_heat"
    level: int


@dataclass(frozen=True, slots=True)
class SetMode:
    TYPE: ClassVar[str] = "set_mode"
    mode: int


@dataclass(frozen=True, slots=True)
class SetDirection:
    TYPE: ClassVar[str] = "set_direction"
    direction: int


@dataclass(frozen=True, slots=True)
class Stop:
    TYPE: ClassVar[str] = "stop"


@dataclass(frozen=True, slots=True)
class GetStatus:
    TYPE: ClassVar[str] = "get_status"


Command = Hello | Ping | SetIntensity | SetHead | SetHeat | SetMode | SetDirection | Stop | GetStatus


def pack_flags(**flags: bool) -> int:
    """The status flag byte from flag names (see :data:`FLAG_NAMES`).

    Raises:
        ValueError: an unknown flag name.
    """
    unknown = set(flags) - set(FLAG_NAMES)
    if unknown:
        raise ValueError(f"unknown status flags: {sorted(unknown)}")
    return sum(1 << bit for bit, name in enumerate(FLAG_NAMES) if flags.get(name, False))


def unpack_flags(byte: int) -> dict[str, bool]:
    """Flag names to values; the reserved bits 6–7 are ignored."""
    return {name: bool(byte >> bit & 1) for bit, name in enumerate(FLAG_NAMES)}
