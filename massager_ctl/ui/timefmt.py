"""Durations as people read them: one format (``m:ss``) everywhere the CLI shows a time."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss`` from an hour) for a number of seconds."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
