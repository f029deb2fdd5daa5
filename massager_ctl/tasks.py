"""Ending child tasks without losing a cancellation aimed at the one ending them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has ended.

    ``asyncio.wait`` does not raise the child's ``CancelledError``, so one that
    reaches the caller meanwhile is its own and propagates (``suppress`` would
    swallow it). A child that failed instead is logged, not re-raised.

    Raises:
        asyncio.CancelledError: the caller was cancelled while waiting.
    """
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("%s failed", _name(task), exc_info=error)


def _name(task: asyncio.Future[Any]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)
