"""The session clock: the event loop's clock, from the session's start, at the session's speed."""

from __future__ import annotations

import asyncio


class SessionClock:
    """Session seconds on the running loop's clock; 0 until the session starts.

    Args:
        speed: session seconds per loop second (a simulator whose firmware clocks run faster).
    """

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be more than 0")
        self.speed = speed
        self.t0 = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def started(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        """Start on the running loop: the session clock reads 0 now."""
        self._loop = asyncio.get_running_loop()
        self.t0 = self._loop.time()

    def restart(self) -> None:
        """Read 0 from now on (the session proper starts once the device is ready)."""
        if self._loop is not None:
            self.t0 = self._loop.time()

    def now(self) -> float:
        if self._loop is None:
            return 0.0
        return (self._loop.time() - self.t0) * self.speed

    def loop_at(self, t: float) -> float:
        """The loop time at which the session clock reads ``t``."""
        return self.t0 + t / self.speed
