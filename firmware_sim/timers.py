"""One-shot firmware timers on the event loop, such as the watchdog's dead-man timer and heat's auto-off."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

Schedule = Callable[[float, Callable[[], None]], asyncio.TimerHandle]


class Deadline:
    """Calls ``callback`` at a loop time unless re-armed or cancelled first.

    Args:
        schedule: how to schedule a call at a loop time (the firmware's guarded ``call_at``).
        callback: what to run when the deadline passes.
    """

    def __init__(self, schedule: Schedule, callback: Callable[[], None]) -> None:
        self._schedule = schedule
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None

    def arm(self, when: float) -> None:
        """Fire at loop time ``when``, replacing any earlier deadline."""
        self.cancel()
        self._handle = self._schedule(when, self._fire)

    def cancel(self) -> None:
        """Do not fire; idempotent."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._callback()
