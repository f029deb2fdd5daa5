"""The safety floor: motor and heat off, confirmed by the device, even while being cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from massager_ctl.drivers.base import DeviceState, Driver
from massager_ctl.errors import DeviceError

T = TypeVar("T")

#: How many times to send stop before giving up on a confirmation.
STOP_ATTEMPTS = 3
#: Real seconds one stop attempt may take (the driver retries inside it too).
STOP_TIMEOUT_S = 3.0


async def drive_safe(driver: Driver, *, attempts: int = STOP_ATTEMPTS) -> DeviceState | None:
    """Stop the motor and the heat and read the state back until the device confirms both off.

    Returns:
        The confirmed safe state, or ``None`` if the device never confirmed it.
    """
    for _ in range(attempts):
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                state = await driver.stop()
                if not state.safe:
                    state = await driver.refresh()
        except (DeviceError, TimeoutError):
            continue
        if state.safe:
            return state
    return None


async def shielded(coro: Coroutine[Any, Any, T]) -> tuple[T, bool]:
    """Run ``coro`` to the end even if the caller is cancelled meanwhile.

    Returns:
        The result and whether a cancellation arrived (the caller re-raises it).
    """
    task = asyncio.ensure_future(coro)
    cancelled = False
    while True:
        try:
            return await asyncio.shield(task), cancelled
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
