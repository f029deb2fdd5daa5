"""The journal writes on its own thread: a locked database never stalls the event loop."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from massager_ctl.events import EventBus, Notice, SessionStarted
from massager_ctl.journal import Journal


async def test_a_locked_journal_does_not_stall_the_loop_and_keeps_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "journal.sqlite3"
    bus = EventBus()
    loop = asyncio.get_running_loop()
    gave_up = asyncio.Event()  # a write waited out the lock (the busy timeout) and failed

    class GaveUp(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "could not record" in record.getMessage():
                loop.call_soon_threadsafe(gave_up.set)

    handler = GaveUp()
    logging.getLogger("massager_ctl.journal").addHandler(handler)
    writers: set[int] = set()
    try:
        # a short busy timeout: the writes wait it out for real, on the writer's thread
        with Journal(path, busy_timeout_s=0.2) as journal:
            # the thread each statement runs on (sqlite calls the trace callback on that thread)
            journal.db.set_trace_callback(lambda _sql: writers.add(threading.get_ident()))
            follower = asyncio.create_task(journal.follow(bus.subscribe(maxsize=1000, name="journal")))
            # another process takes the write lock for longer than the journal's busy timeout
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            bus.publish(
                SessionStarted(
                    session_id="s1",
                    session_t=0.0,
                    routine_id="r",
                    routine_title="R",
                    device="sim://x",
                    model="m",
                    steps=1,
                    planned_duration_s=60,
                )
            )
            for i in range(3):
                bus.publish(Notice(session_id="s1", session_t=float(i), level="info", message=f"n{i}"))
            async with asyncio.timeout(30):  # the loop is free to wait while the writer is stuck
                await gave_up.wait()
            other.execute("ROLLBACK")
            other.close()
            for i in range(3, 5):
                bus.publish(Notice(session_id="s1", session_t=float(i), level="info", message=f"n{i}"))
            bus.close()
            await follower
            journal.close()  # flushes the writer
    finally:
        logging.getLogger("massager_ctl.journal").removeHandler(handler)
    # no statement, the stuck ones included, ran on the loop's thread: the loop was never stalled by them
    assert writers
    assert threading.get_ident() not in writers
    assert any("could not record session_started" in r.message for r in caplog.records)
    assert all(r.levelno == logging.ERROR for r in caplog.records if "could not record" in r.message)
    with Journal(path) as journal:
        messages = [str(e["message"]) for e in journal.events("s1")]
    # the writes that waited out the lock failed (and were logged); the later ones landed, in order
    assert messages[-2:] == ["n3", "n4"]
    assert messages == sorted(messages)
