"""The engine's own heat budget, enforced whatever the firmware would allow.

Two limits: heat on without a break for at most the model's ``max_on_s``, and
in total no more heat than the routine plans. Time is the session's clock in
seconds. Heat counts as on from the moment it is asked for until it is
confirmed off, so a lost link (heat state unknown) spends budget too. The
cut-off comes ``slack_s`` before either limit: switching heat off takes a
moment to confirm, and that moment must fit inside the limit, not beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class HeatBudget:
    """Tracks heat-on time against a contiguous and a total limit."""

    contiguous_s: float
    total_s: float
    slack_s: float = 0.0
    used_s: float = 0.0
    on_since: float | None = None

    @property
    def on(self) -> bool:
        return self.on_since is not None

    def used(self, now: float) -> float:
        """Total seconds of heat so far, the current stretch included."""
        return self.used_s + (now - self.on_since if self.on_since is not None else 0.0)

    def left(self, now: float) -> float:
        """Seconds of heat still allowed if heat stays on from ``now`` (the slack kept back)."""
        total_left = self.total_s - self.slack_s - self.used(now)
        if self.on_since is None:
            return max(0.0, min(self.contiguous_s - self.slack_s, total_left))
        return max(0.0, min(self.on_since + self.contiguous_s - self.slack_s - now, total_left))

    def cutoff_at(self, now: float) -> float | None:
        """When heat must go off, if it is on."""
        return now + self.left(now) if self.on_since is not None else None

    def switched_on(self, now: float) -> None:
        if self.on_since is None:
            self.on_since = now

    def switched_off(self, now: float) -> None:
        if self.on_since is not None:
            self.used_s += now - self.on_since
            self.on_since = None
