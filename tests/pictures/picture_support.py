"""Read back what a picture holds: SVG elements by id, PNG size and pixels."""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np
from matplotlib.image import imread
from numpy.typing import NDArray

from massager_ctl.events import SessionFinished, SessionStarted
from massager_ctl.journal import Journal

SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Box:
    """An element's extent in SVG points (y grows downwards)."""

    left: float
    right: float
    top: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


class SvgPicture:
    """An SVG parsed as XML, its elements found by the ids the drawing gave them."""

    def __init__(self, data: bytes) -> None:
        self.root = ET.fromstring(data)  # raises ParseError if it is not well-formed XML
        assert self.root.tag == f"{SVG}svg"
        self.ids = {g.get("id", ""): g for g in self.root.iter(f"{SVG}g")}

    def numbered(self, prefix: str) -> list[int]:
        """The N of every ``prefix-N`` id, sorted."""
        pattern = re.compile(rf"{re.escape(prefix)}-(\d+)")
        return sorted(int(m.group(1)) for i in self.ids if (m := pattern.fullmatch(i)))

    def box(self, gid: str) -> Box:
        """The extent of the paths (bars, spans, lines) or the marker placed in the element ``gid``."""
        xs: list[float] = []
        ys: list[float] = []
        for element in _drawn(self.ids[gid]):
            if element.tag == f"{SVG}path":
                numbers = [float(n) for n in _NUMBER.findall(element.get("d", ""))]
                xs += numbers[0::2]
                ys += numbers[1::2]
            elif element.tag == f"{SVG}use":  # a marker: a shared shape placed at x, y
                xs.append(float(element.get("x", "nan")))
                ys.append(float(element.get("y", "nan")))
        assert xs, f"{gid} draws nothing"
        return Box(min(xs), max(xs), min(ys), max(ys))

    def text(self, gid: str | None = None) -> str:
        """All the text (of element ``gid``, or of the whole picture), lines joined by spaces."""
        scope = self.root if gid is None else self.ids[gid]
        return " ".join(t.text or "" for t in scope.iter(f"{SVG}text"))


def _drawn(element: ET.Element) -> list[ET.Element]:
    """The elements drawn inside ``element``, leaving out shape definitions (``<defs>``)."""
    out: list[ET.Element] = []
    for child in element:
        if child.tag == f"{SVG}defs":
            continue
        out.append(child)
        out += _drawn(child)
    return out


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def png_pixels(data: bytes) -> NDArray[np.uint8]:
    """The decoded image as 8-bit RGB."""
    image = imread(io.BytesIO(data), format="png")
    return np.asarray(np.round(image[..., :3] * 255), dtype=np.uint8)


def has_colour(pixels: NDArray[np.uint8], hex_colour: str, *, at_least: int = 50) -> bool:
    """Whether at least ``at_least`` pixels are exactly ``#RRGGBB``."""
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
    return int(np.all(pixels == rgb, axis=-1).sum()) >= at_least


def add_session(journal: Journal, session_id: str, *, started: dt.datetime, minutes: float) -> None:
    """Record a finished session as the engine would: started, then finished after ``minutes``."""
    start_wall = started.astimezone(dt.UTC)
    journal.record(
        SessionStarted(
            session_id=session_id,
            session_t=0.0,
            wall=start_wall.isoformat(timespec="milliseconds"),
            routine_id="desk-break",
            routine_title="Desk break",
            device="ble://AA:BB:CC:DD:EE:FF?model=pulse-gun-p5",  # a real session: counted weekly
            model="pulse-gun-p5",
            steps=4,
            planned_duration_s=minutes * 60,
        )
    )
    journal.record(
        SessionFinished(
            session_id=session_id,
            session_t=minutes * 60,
            wall=(start_wall + dt.timedelta(minutes=minutes)).isoformat(timespec="milliseconds"),
            status="completed",
            reason="all steps done",
            active_s=minutes * 60,
        )
    )
