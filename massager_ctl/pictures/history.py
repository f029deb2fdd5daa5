"""Minutes per week against the suggestion of about 30 minutes a week.

One bar per week (``week-N``, oldest first, the current week last), the
minutes written above each bar that has any, and a dashed line (``goal``) at
the weekly suggestion. Weeks run Monday to Sunday in local time, as
:meth:`massager_ctl.journal.Journal.weekly` counts them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from massager_ctl.journal import WeekRow
from massager_ctl.pictures import PictureFormat
from massager_ctl.pictures.render import GRID, MUTED, TEXT, draw

#: DOMAIN.md: self-massage about once a week for 30 minutes.
WEEKLY_GOAL_MINUTES = 30.0
HEIGHT_IN = 4.6
MET = "#009E73"
SHORT = "#56B4E9"


@dataclass(frozen=True, slots=True)
class WeekTotal:
    """One week's total; ``start`` is its Monday."""

    start: dt.date
    minutes: float
    sessions: int


def last_weeks(weeks: Sequence[WeekRow], *, today: dt.date, count: int = 12) -> list[WeekTotal]:
    """The ``count`` weeks up to ``today``'s, oldest first, with the weeks without sessions as zero."""
    this_monday = today - dt.timedelta(days=today.weekday())
    by_start = {_monday(row.week): row for row in weeks}
    out: list[WeekTotal] = []
    for back in range(count - 1, -1, -1):
        start = this_monday - dt.timedelta(weeks=back)
        row = by_start.get(start)
        out.append(WeekTotal(start, row.minutes if row else 0.0, row.sessions if row else 0))
    return out


def draw_history(weeks: Sequence[WeekTotal], *, fmt: PictureFormat) -> bytes:
    """The weeks as a bar chart, ``fmt`` bytes."""
    return draw(lambda figure: _build(figure, weeks), height_in=HEIGHT_IN, fmt=fmt)


def _build(figure: Figure, weeks: Sequence[WeekTotal]) -> None:
    ax = figure.subplots()
    figure.suptitle("Minutes of massage per week")
    met = sum(1 for w in weeks if w.minutes >= WEEKLY_GOAL_MINUTES)
    ax.set_title(
        f"{met} of the last {len(weeks)} weeks reached {WEEKLY_GOAL_MINUTES:g}", loc="left", color=MUTED
    )
    positions = list(range(len(weeks)))
    bars = ax.bar(
        positions,
        [w.minutes for w in weeks],
        width=0.7,
        color=[MET if w.minutes >= WEEKLY_GOAL_MINUTES else SHORT for w in weeks],
    )
    for number, (bar, week) in enumerate(zip(bars, weeks, strict=True), start=1):
        bar.set_gid(f"week-{number}")
        if week.minutes > 0:
            ax.annotate(
                f"{week.minutes:.0f}",
                (bar.get_x() + bar.get_width() / 2, week.minutes),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=12,
                gid=f"week-label-{number}",
            )
    if not any(w.sessions for w in weeks):
        ax.text(0.5, 0.5, "no sessions yet", transform=ax.transAxes, ha="center", color=MUTED, gid="empty")
    goal = _goal(ax)
    figure.legend(handles=[goal], loc="outside lower center", frameon=False)
    top = max([WEEKLY_GOAL_MINUTES, *(w.minutes for w in weeks)])
    ax.set_ylim(0, top * 1.25)
    ax.set_xlim(-0.6, len(weeks) - 0.4)
    ax.set_xticks(positions, [f"{w.start.day}\n{w.start:%b}" for w in weeks])
    ax.tick_params(axis="x", length=0, labelsize=11)
    ax.get_xticklabels()[-1].set_fontweight("bold")  # this week, still under way
    ax.set_ylabel("minutes")
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.set_xlabel("week starting (this week in bold)")


def _goal(ax: Axes) -> Line2D:
    return ax.axhline(
        WEEKLY_GOAL_MINUTES,
        color=TEXT,
        linestyle="--",
        linewidth=1.5,
        gid="goal",
        label=f"suggested: {WEEKLY_GOAL_MINUTES:g} min a week",
    )


def _monday(week: str) -> dt.date:
    year, number = week.split("-W")
    return dt.date.fromisocalendar(int(year), int(number), 1)
