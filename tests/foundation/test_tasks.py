"""cancel_and_wait: a cancel for the caller while a child winds down is kept; a failed child is logged."""

from __future__ import annotations

import asyncio
import logging

import pytest

from massager_ctl.tasks import cancel_and_wait
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY  # the slow cleanup and the cancel's moment pass in virtual time


async def test_a_cancel_arriving_while_the_child_winds_down_reaches_the_caller() -> None:
    cleaned = asyncio.Event()

    async def child() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.2)  # slow cleanup, e.g. a device made safe
            cleaned.set()

    async def parent(task: asyncio.Task[None]) -> str:
        await cancel_and_wait(task)
        return "carried on"

    task = asyncio.create_task(child())
    await asyncio.sleep(0)
    caller = asyncio.create_task(parent(task))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.wait({task})
    assert cleaned.is_set()
    assert task.cancelled()


async def test_a_child_that_failed_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def child() -> None:
        raise ValueError("broken")

    task = asyncio.create_task(child(), name="broken-child")
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failed] == ["broken-child failed"]
    assert failed[0].exc_info is not None
    assert isinstance(failed[0].exc_info[1], ValueError)
