"""The weekly history chart, from sessions recorded in a journal on disk."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from massager_ctl.journal import Journal, WeekRow
from massager_ctl.pictures import weekly_history
from massager_ctl.pictures.history import MET, SHORT, WEEKLY_GOAL_MINUTES, last_weeks
from massager_ctl.pictures.render import PNG_DPI, WIDTH_IN
from tests.pictures.picture_support import SvgPicture, add_session, has_colour, png_pixels, png_size

TODAY = dt.date(2026, 12, 3)  # a Thursday; its week starts on Monday 30 November
UTC = dt.UTC


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def weeks(tmp_path: Path) -> list[WeekRow]:
    with Journal(tmp_path / "journal.sqlite3") as journal:
        add_session(journal, "this-week-1", started=at("2026-12-01"), minutes=20)
        add_session(journal, "this-week-2", started=at("2026-12-02"), minutes=15)
        add_session(journal, "w47", started=at("2026-11-18"), minutes=12)
        add_session(journal, "w41", started=at("2026-10-05"), minutes=30)
        add_session(journal, "oldest-shown", started=at("2026-09-14", 8), minutes=8)
        add_session(journal, "too-old", started=at("2026-09-10"), minutes=50)
        return journal.weekly(tz=UTC)


def test_the_last_twelve_weeks_with_empty_weeks_as_zero(weeks: list[WeekRow]) -> None:
    shown = last_weeks(weeks, today=TODAY)
    assert len(shown) == 12
    assert shown[0].start == dt.date(2026, 9, 14)
    assert shown[-1].start == dt.date(2026, 11, 30)
    assert all(w.start.weekday() == 0 for w in shown)
    minutes = {w.start.isoformat(): w.minutes for w in shown if w.minutes}
    assert minutes == {"2026-09-14": 8, "2026-10-05": 30, "2026-11-16": 12, "2026-11-30": 35}
    assert shown[-1].sessions == 2


def test_one_bar_per_week_as_tall_as_its_minutes_against_the_30_minute_line(weeks: list[WeekRow]) -> None:
    svg = SvgPicture(weekly_history(weeks, today=TODAY, fmt="svg"))
    assert svg.numbered("week") == list(range(1, 13))
    this_week = svg.box("week-12")
    per_minute = this_week.height / 35
    expected = [8, 0, 0, 30, 0, 0, 0, 0, 0, 12, 0, 35]
    lefts = []
    for number, minutes in enumerate(expected, start=1):
        bar = svg.box(f"week-{number}")
        assert bar.bottom == pytest.approx(this_week.bottom, abs=0.05)
        assert bar.height == pytest.approx(minutes * per_minute, abs=0.05), number
        lefts.append(bar.left)
    assert lefts == sorted(lefts)  # oldest on the left
    goal = svg.box("goal")
    assert goal.top == pytest.approx(this_week.bottom - WEEKLY_GOAL_MINUTES * per_minute, abs=0.05)
    assert goal.left <= svg.box("week-1").left
    assert goal.right >= this_week.right
    # the week that reached exactly 30 minutes tops out on the line
    assert svg.box("week-4").top == pytest.approx(goal.top, abs=0.05)
    assert svg.numbered("week-label") == [1, 4, 10, 12]
    assert svg.text("week-label-12") == "35"


def test_the_text_names_the_weeks_and_the_suggestion(weeks: list[WeekRow]) -> None:
    text = SvgPicture(weekly_history(weeks, today=TODAY, fmt="svg")).text()
    assert "14 Sep" in text
    assert "30 Nov" in text
    assert "suggested: 30 min a week" in text
    assert "2 of the last 12 weeks reached 30" in text
    assert "no sessions yet" not in text


def test_an_empty_journal_draws_empty_weeks_and_says_so(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite3") as journal:
        svg = SvgPicture(weekly_history(journal.weekly(tz=UTC), today=TODAY, fmt="svg"))
    assert svg.numbered("week") == list(range(1, 13))
    assert all(svg.box(f"week-{n}").height == 0 for n in range(1, 13))
    assert svg.text("empty") == "no sessions yet"
    assert "goal" in svg.ids


def test_png_is_phone_sized_with_reached_and_short_weeks_in_their_colours(weeks: list[WeekRow]) -> None:
    data = weekly_history(weeks, today=TODAY, fmt="png")
    width, height = png_size(data)
    assert width == round(WIDTH_IN * PNG_DPI)
    assert height > width * 0.7
    pixels = png_pixels(data)
    assert pixels.std() > 20
    assert has_colour(pixels, MET, at_least=2000)
    assert has_colour(pixels, SHORT, at_least=500)


@pytest.fixture
def far_east(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone at UTC+13, as on a machine set to that zone."""
    monkeypatch.setenv("TZ", "XST-13")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_east")
def test_weeks_are_local_weeks(tmp_path: Path) -> None:
    # Sunday 14:00 UTC is Monday 03:00 at UTC+13: a session of the new local week
    with Journal(tmp_path / "journal.sqlite3") as journal:
        add_session(journal, "monday-morning", started=at("2026-11-29", 14), minutes=25)
        local = journal.weekly()
        assert [(w.week, w.minutes) for w in local] == [("2026-W49", 25)]
        assert [w.week for w in journal.weekly(tz=UTC)] == ["2026-W48"]
    shown = last_weeks(local, today=TODAY)
    assert shown[-1].minutes == 25
