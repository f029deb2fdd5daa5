"""Fault injection settings for the simulated firmware.

Times are firmware seconds: at ``speed`` N they pass N times faster, like every other firmware clock.
Random faults draw from the firmware's own seeded generator, so a seed replays the same run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from massager_ctl.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """What goes wrong, and when.

    Attributes:
        drop_link_at: drop the link at this firmware time (seconds after start).
        drop_link_after: drop the link this many firmware seconds after the first bytes from the controller,
            so the drop lands inside a controller's run however long that controller took to start.
        drop_link_p: probability per firmware second of dropping the link.
        reconnect_after: how long a dropped link stays down before the device accepts a link again.
        drop_frame_p: probability that a frame (or line) is lost, in either direction.
        corrupt_frame_p: probability that one byte of a frame (or line) is damaged, in either direction.
        delay_frame_s: every frame the device sends leaves this much later (order is kept).
        ack_delay_s: acks (and what queues behind them) leave this much later.
        stall_at: the device stops answering at this time: frames are read and ignored.
        stall_s: how long a stall lasts.
        lose_status_at: from this time every status frame the device sends is lost on the way (the one that
            follows an ack and the answer to a status request alike); acks and other replies still arrive.
        lose_status_s: how long status frames are lost.
        battery: starting battery charge in percent (battery models).
        low_battery: start with 14 % charge (below the 15 % low-battery mark); ``battery`` wins if both.
        refuse_head: a head id the device refuses: selecting that zone, or running the motor with that
            manual head fitted, is answered ``refused``.
        overheat_at: at this time the heater sticks on and runs away, tripping overheat protection.
    """

    drop_link_at: float | None = None
    drop_link_after: float | None = None
    drop_link_p: float = 0.0
    reconnect_after: float = 2.0
    drop_frame_p: float = 0.0
    corrupt_frame_p: float = 0.0
    delay_frame_s: float = 0.0
    ack_delay_s: float = 0.0
    stall_at: float | None = None
    stall_s: float = 3.0
    lose_status_at: float | None = None
    lose_status_s: float = 3.0
    battery: float | None = None
    low_battery: bool = False
    refuse_head: str | None = None
    overheat_at: float | None = None

    def __post_init__(self) -> None:
        for name in ("drop_link_p", "drop_frame_p", "corrupt_frame_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"fault {name}={value} must be a probability between 0 and 1")
        for name in (
            "drop_link_at",
            "drop_link_after",
            "reconnect_after",
            "delay_frame_s",
            "ack_delay_s",
            "stall_at",
            "stall_s",
            "lose_status_at",
            "lose_status_s",
            "overheat_at",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"fault {name}={value} must not be negative")
        if self.battery is not None and not 0 <= self.battery <= 100:
            raise ConfigError(f"fault battery={self.battery} must be a percentage 0-100")

    @property
    def start_battery(self) -> float | None:
        """The charge to start with, if a fault sets one."""
        if self.battery is not None:
            return self.battery
        return 14.0 if self.low_battery else None

    @classmethod
    def parse(cls, spec: str) -> FaultSpec:
        """Parse ``key=value,key=value`` (the ``--faults`` option); an empty spec means no faults.

        Raises:
            ConfigError: an unknown key, a missing ``=``, or a value of the wrong type or range.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, raw = item.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep or not raw:
                raise ConfigError(f"fault {item!r} must be key=value")
            if key not in fields:
                raise ConfigError(f"unknown fault {key!r}; known faults: {', '.join(fields)}")
            values[key] = _convert(key, raw, str(fields[key].type))
        return cls(**values)  # type: ignore[arg-type]


def _convert(key: str, raw: str, type_name: str) -> object:
    if type_name.startswith("str"):
        return raw
    if type_name == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"fault {key}={raw!r} must be 1 or 0")
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"fault {key}={raw!r} must be a number") from None
