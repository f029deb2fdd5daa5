"""Tables for the terminal that never cut what they show."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.table import Table


def make_table(*columns: str, whole: Mapping[str, Iterable[str]] | None = None) -> Table:
    """A table whose columns wrap, folding a word too long for them rather than cutting it.

    ``whole`` names columns (ids, URLs) that must stay on one line, with the values they will
    hold: each gets at least the width of its longest value, however narrow the terminal.
    """
    keep = {name: max((len(v) for v in values), default=0) for name, values in (whole or {}).items()}
    table = Table()
    for name in columns:
        if name in keep:
            table.add_column(name, no_wrap=True, min_width=max(keep[name], len(name)))
        else:
            table.add_column(name, overflow="fold")
    return table
