"""The session journal: SQLite in WAL mode, written while the session runs.

One row per session in ``sessions`` and one row per lifecycle event in
``events``, each committed as it happens, so a crash loses at most the event
in flight. A session still marked ``running`` whose process is gone is marked
``interrupted`` the next time the journal opens. ``progress`` events only
update the session row (its elapsed time), they are not stored one by one.

:meth:`Journal.follow` writes on the journal's own writer thread, one event
after another in order, so a slow disk or another process holding the write
lock never stalls the event loop (which feeds the device's watchdog).

Each session has a kind (:data:`SessionKind`): what it ran on, or ``rehearsal``
when its time ran faster than real time. Only real massage time counts in the
weekly minutes: simulated and rehearsed sessions are listed but not counted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, get_args

from massager_ctl.errors import ConfigError
from massager_ctl.events import (
    BaseEvent,
    Progress,
    SessionFinished,
    SessionStarted,
    StepFinished,
    Subscription,
)

log = logging.getLogger(__name__)

#: What a session ran on: a real device, a simulator, a person following instructions (``manual://``),
#: nothing (prompts only); or a rehearsal (time compressed with ``--speed``, no device or manual).
SessionKind = Literal["real", "simulated", "manual", "none", "rehearsal"]
SESSION_KINDS: tuple[SessionKind, ...] = get_args(SessionKind)
#: The kinds whose minutes are real massage time, counted in :meth:`Journal.weekly`.
COUNTED_KINDS: tuple[SessionKind, ...] = ("real", "manual", "none")
#: ``PRAGMA user_version`` of the current schema; :func:`_migrate` brings an older journal up to it.
SCHEMA_VERSION = 1


def session_kind(device: str, *, speed: float = 1.0) -> SessionKind:
    """The kind of a session on ``device`` (a device URL, or no URL for none) at ``speed``."""
    scheme = device.partition("://")[0].lower() if "://" in device else ""
    if scheme == "sim":
        return "simulated"
    if speed != 1.0:
        return "rehearsal"
    if scheme == "manual":
        return "manual"
    return "real" if scheme else "none"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    routine_id TEXT NOT NULL,
    routine_title TEXT NOT NULL,
    device TEXT NOT NULL,
    model TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    planned_s REAL NOT NULL,
    elapsed_s REAL NOT NULL DEFAULT 0,
    steps_done INTEGER NOT NULL DEFAULT 0,
    pid INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'real'
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    type TEXT NOT NULL,
    session_t REAL NOT NULL,
    wall TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_session ON events(session_id, id);
"""


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    routine_id: str
    routine_title: str
    device: str
    model: str
    started_at: str
    ended_at: str | None
    status: str
    reason: str | None
    planned_s: float
    elapsed_s: float
    steps_done: int
    kind: str


@dataclass(frozen=True, slots=True)
class WeekRow:
    week: str
    sessions: int
    minutes: float


class Journal:
    """The session journal at ``path``; use as ``with Journal(path) as journal:``.

    Args:
        path: the SQLite file.
        busy_timeout_s: how long a statement waits for another process's lock before it fails.

    Raises:
        ConfigError: (on open) the file cannot be opened or is not a journal.
    """

    def __init__(self, path: Path, *, busy_timeout_s: float = 2.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the writer thread and the caller's thread share the connection
        self._writer: ThreadPoolExecutor | None = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Open (creating if needed) and mark sessions left running by dead processes as interrupted.

        Raises:
            ConfigError: the journal cannot be opened.
        """
        if self._db is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={round(self.busy_timeout_s * 1000)}")
            db.executescript(_SCHEMA)
            _migrate(db)
        except (OSError, sqlite3.Error) as e:
            raise ConfigError(f"cannot open the session journal {self.path}: {e}") from e
        self._db = db
        self._mark_interrupted()

    def close(self) -> None:
        """Write what :meth:`follow` has queued, then close the database; safe to call twice."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the journal is not open")
        return self._db

    def _mark_interrupted(self) -> None:
        rows = self.db.execute("SELECT id, pid FROM sessions WHERE status = 'running'").fetchall()
        for session_id, pid in rows:
            if pid != os.getpid() and _alive(pid):
                continue  # another live process is still running it
            last = self.db.execute(
                "SELECT wall FROM events WHERE session_id = ? ORDER BY id DESC LIMIT 1", (session_id,)
            ).fetchone()
            self.db.execute(
                "UPDATE sessions SET status = 'interrupted', reason = ?, ended_at = ? WHERE id = ?",
                ("the controller stopped before the session ended", last[0] if last else None, session_id),
            )

    def record(self, event: BaseEvent, *, kind: SessionKind | None = None) -> None:
        """Write one event (and update its session's row).

        Args:
            event: the event.
            kind: the session's kind, taken when ``event`` starts a session (default: from its device URL).

        Raises:
            sqlite3.Error: the write failed (a locked or broken database).
        """
        with self._lock:
            self._record(event, kind)

    def _record(self, event: BaseEvent, kind: SessionKind | None) -> None:
        db = self.db
        if isinstance(event, SessionStarted):
            db.execute(
                "INSERT OR REPLACE INTO sessions (id, routine_id, routine_title, device, model, started_at,"
                " status, planned_s, pid, kind) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (
                    event.session_id,
                    event.routine_id,
                    event.routine_title,
                    event.device,
                    event.model,
                    event.wall,
                    event.planned_duration_s,
                    os.getpid(),
                    kind or session_kind(event.device),
                ),
            )
        if isinstance(event, Progress):
            db.execute(
                "UPDATE sessions SET elapsed_s = ? WHERE id = ?", (event.session_elapsed_s, event.session_id)
            )
            return
        db.execute(
            "INSERT INTO events (session_id, type, session_t, wall, data) VALUES (?, ?, ?, ?, ?)",
            (event.session_id, event.type, event.session_t, event.wall, event.model_dump_json()),
        )
        if isinstance(event, StepFinished):
            db.execute("UPDATE sessions SET steps_done = steps_done + 1 WHERE id = ?", (event.session_id,))
        elif isinstance(event, SessionFinished):
            db.execute(
                "UPDATE sessions SET status = ?, reason = ?, ended_at = ?, elapsed_s = ? WHERE id = ?",
                (event.status, event.reason, event.wall, event.active_s, event.session_id),
            )

    async def follow(self, subscription: Subscription, *, kind: SessionKind | None = None) -> None:
        """Record every event of a subscription until it ends, on the journal's writer thread.

        A failed write is logged and the next event is tried: the session does not
        depend on its journal.

        Args:
            subscription: the session's events.
            kind: the kind of the sessions it starts (default: from each one's device URL).
        """
        loop = asyncio.get_running_loop()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        async for event in subscription:
            try:
                await loop.run_in_executor(self._writer, partial(self.record, event, kind=kind))
            except (sqlite3.Error, RuntimeError) as e:
                log.error("journal %s: could not record %s: %s", self.path, event.type, e)

    def sessions(self, *, limit: int = 50) -> list[SessionRow]:
        """The most recent sessions, newest first."""
        with self._lock:
            rows = self.db.execute(
                "SELECT id, routine_id, routine_title, device, model, started_at, ended_at, status, reason,"
                " planned_s, elapsed_s, steps_done, kind FROM sessions ORDER BY started_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [SessionRow(*row) for row in rows]

    def events(self, session_id: str) -> list[dict[str, object]]:
        """A session's stored events, in order, as their JSON objects."""
        with self._lock:
            rows = self.db.execute(
                "SELECT data FROM events WHERE session_id = ? ORDER BY id", (session_id,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def weekly(self, *, tz: dt.tzinfo | None = None) -> list[WeekRow]:
        """Sessions and minutes of real massage per ISO week (``2026-W48``), oldest first.

        Simulated and rehearsed sessions are not counted (see :data:`COUNTED_KINDS`).

        Args:
            tz: the time zone whose Monday-to-Sunday weeks count (default: the local one),
                so a session on a Monday morning is in that week wherever UTC's day is.
        """
        weeks: dict[str, list[float]] = {}
        with self._lock:
            counted = ", ".join("?" * len(COUNTED_KINDS))
            rows = self.db.execute(
                f"SELECT started_at, elapsed_s FROM sessions WHERE kind IN ({counted})", COUNTED_KINDS
            ).fetchall()
        for started_at, elapsed_s in rows:
            year, week, _ = dt.datetime.fromisoformat(started_at).astimezone(tz).isocalendar()
            bucket = weeks.setdefault(f"{year}-W{week:02d}", [0, 0.0])
            bucket[0] += 1
            bucket[1] += elapsed_s / 60
        return [WeekRow(week, int(n), round(minutes, 1)) for week, (n, minutes) in sorted(weeks.items())]


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a journal written by an older version up to :data:`SCHEMA_VERSION`, in one transaction.

    Another process may open the same journal at the same moment: the write lock taken first
    serialises the two, and the version is read again under it, so the change is made once.
    """
    if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] < 1:
            columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
            if "kind" not in columns:  # a journal from before session kinds: sim:// URLs were simulators
                db.execute("ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'real'")
                db.execute("UPDATE sessions SET kind = 'simulated' WHERE device LIKE 'sim://%'")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
