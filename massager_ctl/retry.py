"""The one retry policy: exponential backoff with jitter, bounded or not.

Every loop that tries again (a session reconnecting its device, ``serve`` reopening
the device between sessions, the MQTT link reconnecting, ``devices try`` stopping a
device through a fresh link) takes its delays from a :class:`Backoff`::

    for delay in Backoff(initial_s=0.5, max_s=8.0, attempts=5).delays():
        await asyncio.sleep(delay)
        ...

BLE connects add bleak-retry-connector's own short retries underneath (see
:mod:`massager_ctl.transports.ble`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Delays between attempts: ``initial_s``, doubling up to ``max_s``.

    Attributes:
        initial_s: the first delay.
        max_s: no delay is longer (before jitter).
        attempts: how many delays (so attempts) there are; ``None`` for no end.
        jitter: each delay grows by a random fraction up to this, so many clients
            that lost the same server do not come back in step.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    attempts: int | None = None
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not (0 <= self.initial_s <= self.max_s):
            raise ValueError(f"need 0 <= initial_s <= max_s, got {self.initial_s} and {self.max_s}")
        if self.attempts is not None and self.attempts < 0:
            raise ValueError(f"attempts must not be negative, got {self.attempts}")
        if self.jitter < 0:
            raise ValueError(f"jitter must not be negative, got {self.jitter}")

    def delays(self) -> Iterator[float]:
        """A fresh sequence of delays; start a new one to begin again from ``initial_s``."""
        current = self.initial_s
        count = 0
        while self.attempts is None or count < self.attempts:
            yield current * (1 + random.uniform(0, self.jitter)) if self.jitter else current
            current = min(self.max_s, current * 2)
            count += 1
