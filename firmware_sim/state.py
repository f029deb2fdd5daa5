"""What a simulated device is doing, as a person (or a test) would see it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FirmwareState:
    """What the device is doing, as a person (or a test) would see it.

    ``t`` is firmware seconds since start; ``head`` the fitted or selected catalog head id;
    ``heat`` the heat level index; ``mode``/``direction`` catalog names; ``powered`` is false once the
    battery is empty.
    """

    t: float
    motor: bool
    head: str | None
    intensity: int
    heat: int
    heat_name: str
    mode: str
    direction: str | None
    temperature_c: float
    battery: int | None
    watchdog_tripped: bool
    low_battery: bool
    overheat: bool
    heat_auto_off: bool
    connected: bool
    powered: bool

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)
