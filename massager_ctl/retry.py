"""Delays between attempts to reach something that went away (a broker, a device)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: ``initial_s`` doubling up to ``max_s``, with up to 20 % jitter."""

    initial_s: float = 0.5
    max_s: float = 30.0

    def delays(self) -> Callable[[], float]:
        current = self.initial_s

        def next_delay() -> float:
            nonlocal current
            delay = current * (1 + random.uniform(0, 0.2))
            current = min(self.max_s, current * 2)
            return delay

        return next_delay
