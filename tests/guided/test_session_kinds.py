"""Session kinds in the journal: rehearsals and simulators are listed but kept out of weekly minutes."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from massager_ctl.events import SessionFinished, SessionStarted
from massager_ctl.journal import SCHEMA_VERSION, Journal, SessionKind, session_kind
from tests.foundation.cli_support import Cli, in_process, isolate

START = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def cli_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    isolate(monkeypatch, tmp_path)
    return in_process(capsys)


def record(
    journal: Journal, session_id: str, device: str, *, minutes: float, kind: SessionKind | None
) -> None:
    wall = START.isoformat(timespec="milliseconds")
    journal.record(
        SessionStarted(
            session_id=session_id, session_t=0.0, wall=wall, routine_id="desk-break", routine_title="D",
            device=device, model="m", steps=1, planned_duration_s=minutes * 60,
        ),
        kind=kind,
    )  # fmt: skip
    journal.record(
        SessionFinished(
            session_id=session_id, session_t=minutes * 60, wall=wall, status="completed", reason="done",
            active_s=minutes * 60,
        )
    )  # fmt: skip


def test_the_kind_of_a_session() -> None:
    assert session_kind("ble://AA:BB:CC:DD:EE:FF?model=pulse-gun-p5") == "real"
    assert session_kind("serial:///dev/ttyUSB0?model=serial-cushion-z3") == "real"
    assert session_kind("sim://pulse-gun-p5") == "simulated"
    assert session_kind("sim://pulse-gun-p5", speed=20) == "simulated"
    assert session_kind("no device") == "none"
    assert session_kind("no device", speed=20) == "rehearsal"
    assert session_kind("manual://pulse-gun-p5") == "manual"
    assert session_kind("manual://pulse-gun-p5", speed=5) == "rehearsal"


def test_weekly_minutes_count_real_massage_only(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite3") as journal:
        record(journal, "real", "ble://AA:BB:CC:DD:EE:FF?model=m", minutes=10, kind=None)
        record(journal, "hands", "no device", minutes=7, kind="none")
        record(journal, "sim", "sim://pulse-gun-p5", minutes=30, kind=None)
        record(journal, "rehearsed", "no device", minutes=30, kind="rehearsal")
        kinds = {row.id: row.kind for row in journal.sessions()}
        weeks = journal.weekly(tz=dt.UTC)
    assert kinds == {"real": "real", "hands": "none", "sim": "simulated", "rehearsed": "rehearsal"}
    assert [(w.sessions, w.minutes) for w in weeks] == [(2, 17.0)]


OLD_SCHEMA = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, routine_id TEXT NOT NULL, routine_title TEXT NOT NULL, device TEXT NOT NULL,
    model TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL, reason TEXT,
    planned_s REAL NOT NULL, elapsed_s REAL NOT NULL DEFAULT 0, steps_done INTEGER NOT NULL DEFAULT 0,
    pid INTEGER NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id),
    type TEXT NOT NULL, session_t REAL NOT NULL, wall TEXT NOT NULL, data TEXT NOT NULL
);
"""


def test_a_journal_from_before_kinds_is_migrated_once_keeping_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        for session_id, device in (("old-real", "ble://AA:BB?model=m"), ("old-sim", "sim://pulse-gun-p5")):
            db.execute(
                "INSERT INTO sessions (id, routine_id, routine_title, device, model, started_at, ended_at,"
                " status, planned_s, elapsed_s, steps_done, pid) VALUES (?, 'r', 'R', ?, 'm', ?, ?,"
                " 'completed', 600, 600, 3, 1)",
                (session_id, device, START.isoformat(), START.isoformat()),
            )
    db.close()
    with Journal(path) as journal:
        kinds = {row.id: row.kind for row in journal.sessions()}
        assert [(w.sessions, w.minutes) for w in journal.weekly(tz=dt.UTC)] == [(1, 10.0)]
        record(journal, "new", "no device", minutes=5, kind="none")
    assert kinds == {"old-real": "real", "old-sim": "simulated"}
    with Journal(path) as journal:  # a second open changes nothing
        assert {row.id: row.kind for row in journal.sessions()} == {**kinds, "new": "none"}
        assert journal.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_history_shows_the_kind_and_leaves_rehearsals_out_of_the_weeks(cli_here: Cli) -> None:
    assert cli_here("run", "desk-break", "--yes", "--speed", "1000").code == 0
    report = json.loads(cli_here("history", "--json").out)
    assert [s["kind"] for s in report["sessions"]] == ["rehearsal"]
    assert report["weeks"] == []
    table = cli_here("history").out
    assert "rehearsal" in table
    assert "not counted" in table
