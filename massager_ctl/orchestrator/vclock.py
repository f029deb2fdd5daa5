"""An event loop whose clock jumps ahead whenever it would otherwise sleep.

The dry run (``massager-ctl simulate``) runs the real engine against an
in-process simulator over an in-memory link: nothing outside the loop can wake
it, so instead of sleeping until the next timer the loop moves its clock there
at once (the idea behind ``looptime`` and Opentrons' ``opentrons_simulate``).
A 30-minute routine takes a fraction of a second of wall time.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A selector loop with a virtual clock that starts at 0 and never waits for timers.

    Real I/O is still polled; only the waits for timers are skipped. Do not use
    it with threads or sockets that need real time to answer.
    """

    def __init__(self) -> None:
        super().__init__(selectors.DefaultSelector())
        self._virtual_now = 0.0
        real_select = self._selector.select  # type: ignore[attr-defined]

        def select(timeout: float | None = None) -> list[tuple[Any, int]]:
            ready: list[tuple[Any, int]] = real_select(0)
            if ready or timeout is None or timeout <= 0:
                if not ready and timeout is None:
                    ready = real_select(None)  # nothing scheduled: only outside I/O can help
                return ready
            self._virtual_now += timeout
            return []

        self._selector.select = select  # type: ignore[attr-defined]

    def time(self) -> float:
        return self._virtual_now
