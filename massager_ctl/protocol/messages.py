"""The messages both protocol families carry, independent of their wire form.

Commands go from the controller to the device, reports come back. ``seq`` is
only meaningful on ``mbin`` (the ``mascii`` family matches replies by order and
command name) and is 0 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from massager_ctl.errors import ProtocolError

CommandName = Literal[
    "hello",
    "ping",
    "set_intensity",
    "set_head",
    "set_heat",
    "set_mode",
    "set_direction",
    "stop",
    "get_status",
]
ErrorKind = Literal[
    "bad_checksum",
    "bad_length",
    "bad_sync",
    "unknown_op",
    "out_of_range",
    "not_supported",
    "refused",
    "battery_empty",
    "syntax",
    "bad_value",
]


class FrameError(ProtocolError):
    """A frame or line that does not decode (or a message that cannot be encoded).

    ``kind`` names the problem with the common error names of ``docs/protocols.md``.
    """

    def __init__(self, message: str, *, kind: ErrorKind) -> None:
        self.kind: ErrorKind = kind
        super().__init__(f"{kind}: {message}")


@dataclass(frozen=True, slots=True)
class Hello:
    name: ClassVar[CommandName] = "hello"
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Ping:
    name: ClassVar[CommandName] = "ping"
    seq: int = 0


@dataclass(frozen=True, slots=True)
class SetIntensity:
    name: ClassVar[CommandName] = "set_intensity"
    level: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class SetHead:
    name: ClassVar[CommandName] = "set_head"
    code: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class SetHeat:
    name: ClassVar[CommandName] = "set_heat"
    level: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class SetMode:
    name: ClassVar[CommandName] = "set_mode"
    mode: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class SetDirection:
    name: ClassVar[CommandName] = "set_direction"
    direction: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Stop:
    name: ClassVar[CommandName] = "stop"
    seq: int = 0


@dataclass(frozen=True, slots=True)
class GetStatus:
    name: ClassVar[CommandName] = "get_status"
    seq: int = 0


Command = Hello | Ping | SetIntensity | SetHead | SetHeat | SetMode | SetDirection | Stop | GetStatus
SettingCommand = SetIntensity | SetHead | SetHeat | SetMode | SetDirection


@dataclass(frozen=True, slots=True)
class Ack:
    """The device accepted the command named ``acked``."""

    acked: CommandName
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Nak:
    """The device refused a command.

    ``op`` is the raw refused op byte (``mbin``; 0 when too damaged to tell) and
    ``command`` the raw command word (``mascii``; ``None`` for ``-``).
    """

    error: ErrorKind
    op: int = 0
    command: str | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class IdentityReport:
    model_code: int
    firmware: str
    serial: str
    protocol_version: int = 1
    seq: int = 0


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One status: the device's state as it reports it (codes, not catalog names)."""

    motor: bool
    head: int
    intensity: int
    heat: int
    mode: int
    temperature_c: float
    direction: int = 0
    battery: int | None = None
    heat_on: bool = False
    watchdog_tripped: bool = False
    low_battery: bool = False
    overheat: bool = False
    heat_auto_off: bool = False
    seq: int = 0

    @property
    def flags(self) -> int:
        """The flags byte of ``docs/protocols.md``."""
        bits = (
            self.motor,
            self.heat_on,
            self.watchdog_tripped,
            self.low_battery,
            self.overheat,
            self.heat_auto_off,
        )
        return sum(1 << i for i, on in enumerate(bits) if on)


Report = Ack | Nak | IdentityReport | StatusReport
Message = Command | Report


def flag_fields(flags: int) -> dict[str, bool]:
    """The named flags of a flags byte (the motor bit is reported separately by ``mascii``)."""
    return {
        "heat_on": bool(flags & 0x02),
        "watchdog_tripped": bool(flags & 0x04),
        "low_battery": bool(flags & 0x08),
        "overheat": bool(flags & 0x10),
        "heat_auto_off": bool(flags & 0x20),
    }


@dataclass(frozen=True, slots=True)
class Limits:
    """Ranges a decoder checks command arguments against (``None`` = any byte)."""

    max_intensity: int | None = None
    head_codes: frozenset[int] | None = None
    heat_levels: int | None = None
    modes: int | None = None
    directions: int | None = None

    def check(self, command: Command) -> None:
        """Raise ``FrameError(out_of_range)`` when an argument is outside the model's range."""
        match command:
            case SetIntensity(level=v):
                ok = self.max_intensity is None or v <= self.max_intensity
            case SetHead(code=v):
                ok = self.head_codes is None or v in self.head_codes
            case SetHeat(level=v):
                ok = self.heat_levels is None or v < self.heat_levels
            case SetMode(mode=v):
                ok = self.modes is None or v < self.modes
            case SetDirection(direction=v):
                ok = self.directions is None or v < self.directions
            case _:
                return
        if not ok:
            raise FrameError(f"{command.name} argument {v} is out of range", kind="out_of_range")
