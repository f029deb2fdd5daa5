"""Pictures of a routine's timeline and of the weekly history, as SVG or PNG bytes.

The command line (``routines plot``, ``history --chart``) and the web page draw
with the same functions: data in, the bytes of one file out, no I/O. The drawing
is matplotlib's (an optional extra, ``pip install 'massager-ctl[pictures]'``);
it is imported only when a picture is drawn, so importing this package, and
``massager-ctl --help``, stay light.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from massager_ctl.errors import ConfigError

if TYPE_CHECKING:
    from massager_ctl.journal import WeekRow
    from massager_ctl.orchestrator.plan import Plan

PictureFormat = Literal["svg", "png"]

#: What the picture formats are served as.
MEDIA_TYPES: dict[PictureFormat, str] = {"svg": "image/svg+xml", "png": "image/png"}

#: The install hint given when matplotlib is missing.
INSTALL_HINT = "pip install 'massager-ctl[pictures]'"


def format_for(path: Path) -> PictureFormat:
    """The picture format a file name asks for, by its suffix.

    Raises:
        ConfigError: the suffix is neither ``.svg`` nor ``.png``.
    """
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return "svg"
    if suffix == ".png":
        return "png"
    shown = f"{path.suffix!r}" if path.suffix else "no suffix"
    raise ConfigError(f"{path}: cannot draw a picture as {shown}; name the file .svg or .png")


def routine_timeline(plan: Plan, *, fmt: PictureFormat) -> bytes:
    """A routine's timeline on one model: intensity per head or zone, heat, head changes, waits, prompts.

    Args:
        plan: the routine resolved for the model and caps (see
            :func:`massager_ctl.orchestrator.plan.preflight`), so the times and
            levels drawn are those the engine runs.
        fmt: ``"svg"`` or ``"png"``.

    Raises:
        ConfigError: matplotlib is not installed.
    """
    _require_matplotlib()
    from massager_ctl.pictures.timeline import draw_timeline

    return draw_timeline(plan, fmt=fmt)


def weekly_history(weeks: Sequence[WeekRow], *, today: dt.date, fmt: PictureFormat, count: int = 12) -> bytes:
    """Minutes per week for the ``count`` weeks up to ``today``'s, against the weekly suggestion.

    Args:
        weeks: the journal's weekly totals (:meth:`massager_ctl.journal.Journal.weekly`,
            whose weeks are local-time weeks).
        today: the local date whose week is the last bar.
        fmt: ``"svg"`` or ``"png"``.
        count: how many weeks to show.

    Raises:
        ConfigError: matplotlib is not installed.
    """
    _require_matplotlib()
    from massager_ctl.pictures.history import draw_history, last_weeks

    return draw_history(last_weeks(weeks, today=today, count=count), fmt=fmt)


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"drawing pictures needs matplotlib; install it with: {INSTALL_HINT}") from e
