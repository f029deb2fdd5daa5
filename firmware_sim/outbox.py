"""Frames leaving the device, each at its release time and always in order."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)


class Outbox:
    """Delivers frames through ``deliver``, holding back delayed ones without reordering.

    A frame with no delay behind an empty queue goes out at once (synchronously); anything else waits
    on the loop's clock, and frames behind a delayed one wait for it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[bytes], None]) -> None:
        self._loop = loop
        self._deliver = deliver
        self._queue: deque[tuple[float, bytes]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def put(self, frame: bytes, *, delay: float = 0.0) -> None:
        """Send ``frame`` after ``delay`` real seconds (and after every frame already waiting)."""
        if delay <= 0 and not self._queue:
            self._send(frame)
            return
        self._queue.append((self._loop.time() + delay, frame))
        self._schedule()

    def clear(self) -> None:
        """Forget every waiting frame (the link went down)."""
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        if self._timer is None and self._queue:
            self._timer = self._loop.call_at(self._queue[0][0], self._drain)

    def _drain(self) -> None:
        self._timer = None
        while self._queue and self._queue[0][0] <= self._loop.time():
            self._send(self._queue.popleft()[1])
        self._schedule()

    def _send(self, frame: bytes) -> None:
        try:
            self._deliver(frame)
        except Exception:  # a broken front-end is its own problem; the firmware keeps running
            log.exception("front-end failed to send a frame")
