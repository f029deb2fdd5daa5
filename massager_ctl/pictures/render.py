"""Figures sized for a phone, drawn to SVG or PNG bytes.

pyplot is never imported: a :class:`~matplotlib.figure.Figure` is built
directly on the Agg canvas, so no GUI backend or global figure list is involved
and a server can draw from any thread.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from massager_ctl.pictures import PictureFormat

#: Figure width in inches. The page shows pictures about 390 px wide, so one point is about one pixel
#: there and the font sizes below read as they would in an app.
WIDTH_IN = 5.2
#: PNG resolution: twice the phone's CSS pixels, for sharp text on a high-density screen.
PNG_DPI = 150

TEXT = "#222222"
MUTED = "#666666"
GRID = "#d9d9d9"

_STYLE: dict[RcKeyType, Any] = {
    "font.family": "sans-serif",
    "font.size": 14,
    "axes.titlesize": 14,
    "axes.labelsize": 14,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "figure.titlesize": 17,
    "figure.titleweight": "bold",
    "text.color": TEXT,
    "axes.labelcolor": TEXT,
    "axes.edgecolor": MUTED,
    "xtick.color": TEXT,
    "ytick.color": TEXT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    # text stays text: the browser renders it and tests can read it
    "svg.fonttype": "none",
    # fixed ids for clip paths, so the same data draws the same file
    "svg.hashsalt": "massager-ctl",
}

# rcParams are process-wide in matplotlib and apply while a figure is built and saved; one
# picture at a time keeps two server threads from drawing with each other's settings.
_DRAWING = threading.Lock()


def draw(build: Callable[[Figure], None], *, height_in: float, fmt: PictureFormat) -> bytes:
    """Build a figure with ``build`` and return it as ``fmt`` bytes."""
    with _DRAWING, matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(WIDTH_IN, height_in), layout="constrained")
        FigureCanvasAgg(figure)
        build(figure)
        out = io.BytesIO()
        # no creation date or software version: the same picture is the same bytes
        metadata: dict[str, str | None] = {"Date": None} if fmt == "svg" else {"Software": None}
        figure.savefig(out, format=fmt, dpi=PNG_DPI, metadata=metadata)
    return out.getvalue()


def mmss(seconds: float) -> str:
    """``m:ss`` for a number of seconds."""
    minutes, secs = divmod(max(0, round(seconds)), 60)
    return f"{minutes}:{secs:02d}"
