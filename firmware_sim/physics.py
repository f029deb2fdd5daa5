"""The simulated device's body: pad or housing temperature, and battery charge.

Pure models advanced by elapsed firmware seconds; the firmware owns the clock.

* Temperature follows a first-order curve ``T(t) = target + (T0 - target)·e^(-t/τ)``: toward a heat level's
  target with τ = :data:`HEAT_TAU_S`, back to :data:`AMBIENT_C` with τ = :data:`COOL_TAU_S`. A model without
  heat has a motor housing that warms to :data:`MOTOR_WARMING_C` above ambient at full intensity.
* The battery drains in proportion to intensity, :data:`DRAIN_PCT_PER_S` at full intensity, nothing at rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

AMBIENT_C = 25.0
HEAT_TAU_S = 90.0
COOL_TAU_S = 240.0
MOTOR_TAU_S = 120.0
MOTOR_WARMING_C = 8.0
OVERHEAT_MARGIN_C = 5.0
RUNAWAY_MARGIN_C = 15.0
DRAIN_PCT_PER_S = 100.0 / (3 * 3600)
LOW_BATTERY_PCT = 15


@dataclass(slots=True)
class Thermal:
    """Pad temperature (heat models) or motor-housing temperature (the others).

    Attributes:
        targets: target temperature of each heat level (index 0 is off), empty without heat.
        max_level: the model's top intensity level.
        temperature: the current temperature, °C.
        runaway: the heater is stuck on (an injected fault) and heads past every target.
    """

    targets: tuple[float, ...]
    max_level: int
    temperature: float = AMBIENT_C
    runaway: bool = False

    @property
    def overheat_c(self) -> float | None:
        """Above this the overheat protection cuts the heater (``None`` without heat)."""
        return max(self.targets) + OVERHEAT_MARGIN_C if self.targets else None

    @property
    def top_c(self) -> float | None:
        """The top heat level's target (``None`` without heat)."""
        return max(self.targets) if self.targets else None

    def advance(self, dt: float, *, heat: int, intensity: int) -> None:
        """Let ``dt`` firmware seconds pass at the given heat level and intensity."""
        if dt <= 0:
            return
        target, tau = self._target(heat, intensity)
        self.temperature = target + (self.temperature - target) * math.exp(-dt / tau)

    def _target(self, heat: int, intensity: int) -> tuple[float, float]:
        if self.targets and self.runaway:
            return max(self.targets) + RUNAWAY_MARGIN_C, HEAT_TAU_S
        if self.targets:
            target = self.targets[heat] if heat > 0 else AMBIENT_C
            return target, HEAT_TAU_S if target > self.temperature else COOL_TAU_S
        return AMBIENT_C + MOTOR_WARMING_C * intensity / self.max_level, MOTOR_TAU_S


@dataclass(slots=True)
class Battery:
    """Battery charge in percent."""

    charge: float
    max_level: int

    def drain(self, dt: float, *, intensity: int) -> None:
        """Let ``dt`` firmware seconds pass at the given intensity."""
        if dt > 0 and intensity > 0:
            self.charge = max(0.0, self.charge - DRAIN_PCT_PER_S * intensity / self.max_level * dt)

    @property
    def pct(self) -> int:
        """The reported level: rounded up, so 0 means truly empty."""
        return math.ceil(self.charge)

    @property
    def low(self) -> bool:
        return self.pct <= LOW_BATTERY_PCT

    @property
    def empty(self) -> bool:
        return self.charge <= 0
