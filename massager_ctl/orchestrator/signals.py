"""The session's inbox of signals, and the exceptions that end a session or a link.

Controls (pause, confirm, ...) and the session's own helpers (the device
watcher, a failed helper) put :class:`Signal` values in the :class:`Inbox`;
the step loop takes them one at a time, in order, and handles each at once.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any, Literal

from massager_ctl.orchestrator.clock import SessionClock
from massager_ctl.orchestrator.controls import ControlError

#: Controls queued at most before the engine takes them; more are refused (the engine's own signals,
#: and a stop, are always taken).
MAX_SIGNALS = 64
_CONTROLS = {"pause", "resume", "skip", "extend", "intensity", "confirm"}


@dataclass(frozen=True, slots=True)
class Signal:
    """A control or an engine event, queued for the session's loop to handle in order."""

    kind: Literal[
        "pause",
        "resume",
        "skip",
        "stop",
        "extend",
        "intensity",
        "confirm",
        "heat",
        "link_lost",
        "head_seen",
        "reapply",
        "failed",
    ]
    value: Any = None


class StopSession(Exception):
    """The session is stopped (by the person, or a cap reached)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class HelperFailed(Exception):
    """One of the session's own tasks failed: the session ends failed, the device made safe."""


class AbortSession(Exception):
    """The session cannot go on (the link did not come back)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class LinkDown(Exception):
    """The link failed under a command or the watcher saw it go; the engine suspends and reconnects."""


class Inbox:
    """Signals for the step loop, in order, with a bounded queue of controls.

    Args:
        clock: the session clock that :meth:`next` deadlines are on.
    """

    def __init__(self, clock: SessionClock) -> None:
        self._clock = clock
        self._signals: collections.deque[Signal] = collections.deque()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self.stop_reason: str | None = None

    def put(self, signal: Signal) -> None:
        """Queue ``signal``; a stop also records the first stop's reason.

        Raises:
            ControlError: too many controls are waiting already.
        """
        if signal.kind in _CONTROLS and len(self._signals) >= MAX_SIGNALS:
            raise ControlError(f"cannot {signal.kind}: too many controls are waiting to be handled")
        if signal.kind == "stop" and self.stop_reason is None:
            self.stop_reason = str(signal.value)
            self._stopped.set()
        self._signals.append(signal)
        self._wake.set()

    def pending_stop(self) -> str | None:
        """The reason of a stop still in the queue, if one is."""
        return next((str(s.value) for s in self._signals if s.kind == "stop"), None)

    def holds(self, kind: str) -> bool:
        """Whether a signal of ``kind`` is waiting."""
        return any(s.kind == kind for s in self._signals)

    def discard(self, kind: str) -> None:
        """Forget queued signals of ``kind`` (link losses of a link already dropped)."""
        self._signals = collections.deque(s for s in self._signals if s.kind != kind)

    async def stopped(self) -> None:
        """Return once a stop has come."""
        await self._stopped.wait()

    async def next(self, until: float | None) -> Signal | None:
        """The next signal, or ``None`` once the session clock reaches ``until``.

        Raises:
            HelperFailed: the next signal says one of the session's helpers failed.
        """
        while not self._signals:
            self._wake.clear()
            if until is None:
                await self._wake.wait()
                continue
            try:
                async with asyncio.timeout_at(self._clock.loop_at(until)):
                    await self._wake.wait()
            except TimeoutError:
                return None
        signal = self._signals.popleft()
        if signal.kind == "failed":
            raise HelperFailed(signal.value)
        return signal
