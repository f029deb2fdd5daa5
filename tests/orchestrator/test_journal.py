"""The journal writes on its own thread: a locked database never stalls the event loop."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from massager_ctl.events import EventBus, Notice, SessionStarted
from massager_ctl.journal import Journal


async def test_a_locked_journal_does_not_stall_the_loop_and_keeps_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "journal.sqlite3"
    bus = EventBus()
    with Journal(path) as journal:
        follower = asyncio.create_task(journal.follow(bus.subscribe(maxsize=1000, name="journal")))
        # another process takes the write lock for longer than the journal's busy timeout
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        gaps: list[float] = []
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
        last = time.monotonic()
        for _ in range(50):  # 2.5 s of a loop that must keep turning every 50 ms
            await asyncio.sleep(0.05)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
        other.execute("ROLLBACK")
        other.close()
        for i in range(3, 5):
            bus.publish(Notice(session_id="s1", session_t=float(i), level="info", message=f"n{i}"))
        bus.close()
        await follower
        journal.close()  # flushes the writer
        assert max(gaps) < 0.5, max(gaps)
    assert any("could not record session_started" in r.message for r in caplog.records)
    assert all(r.levelno == logging.ERROR for r in caplog.records if "could not record" in r.message)
    with Journal(path) as journal:
        messages = [str(e["message"]) for e in journal.events("s1")]
    # the writes that waited out the lock failed (and were logged); the later ones landed, in order
    assert messages[-2:] == ["n3", "n4"]
    assert messages == sorted(messages)
