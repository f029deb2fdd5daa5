"""The wire log: every frame on a device's links as a JSON line, for a bug report.

``--wire-log FILE`` (``run``, ``devices try``, ``serve``) writes one line per frame::

    {"t": 0.0132, "dir": "tx", "hex": "aa0501..."}

``t`` is seconds since the log's first link opened, on the event loop's clock: one log
spans a whole session, reconnects included, so ``t`` never goes back. Each link's opening
and closing is marked by a line without ``dir`` (``{"t": 4.2, "link": 2, "event": "open",
"to": "ble://..."}``) so a reader sees where a reconnect happened.

Every frame the controller sends is written. A frame the device sends that repeats the one
before it unchanged, with nothing sent in between (a bed base's status stream), is written
at most once a second (:data:`REPEAT_EVERY_S`). On a stream link (serial, TCP) the bytes
received are cut into frames by the protocol's own splitter; bytes outside any frame are
not written.

The log is built by composition at the transport boundary: :class:`WireLogTransport` wraps
any :class:`~massager_ctl.transports.base.Transport` and :class:`LoggedSource` any device
source, so every scheme (plug-ins included) is logged alike. Lines are handed to a writer
thread through a queue: nothing on the event loop waits for the disk, and a cancelled
session still leaves every queued line written when the log closes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self

from massager_ctl.errors import ConfigError
from massager_ctl.models import DeviceProfile
from massager_ctl.registry import DeviceSource
from massager_ctl.transports.base import Transport

logger = logging.getLogger(__name__)

REPEAT_EVERY_S = 1.0
"""An unchanged received frame repeating with nothing sent between is written at most this often."""

_CLOSE = None
_EXIT_WAIT_S = 5.0


class Framer(Protocol):
    def feed(self, data: bytes) -> list[bytes]: ...


def stream_framer(profile: DeviceProfile) -> Framer | None:
    """The protocol's splitter for a stream link's received bytes (``None``: chunks are frames)."""
    family = profile.protocol.family
    if family == "mascii":
        from massager_ctl.protocol import mascii

        return mascii.LineSplitter()
    if family == "rongtai":
        from massager_ctl.protocol import rongtai

        return rongtai.FrameSplitter()
    return None


class WireLog:
    """One session's wire log file; use as ``async with WireLog(path) as log:`` (or :meth:`aclose`).

    Args:
        path: the file to write (truncated when it exists).
        clock: seconds, monotonic (default: the running event loop's ``time``, so the log
            follows virtual time in tests).

    Raises:
        ConfigError: the file cannot be opened for writing.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] | None = None) -> None:
        self.path = path
        try:
            self._file: IO[str] = path.open("w", encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"--wire-log {path}: cannot write there: {e.strerror or e}") from e
        self._clock = clock
        self._start: float | None = None
        self._links = 0
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._failed: OSError | None = None
        self._writer = threading.Thread(target=self._write_lines, name=f"wire-log {path.name}", daemon=True)
        self._writer.start()
        self._closed = False
        # a log nobody closed (an error between here and its `async with`) neither holds the process
        # open, as a non-daemon writer would, nor loses its lines at exit
        atexit.register(self._finish)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def now(self) -> float:
        """Seconds since the first link opened (0 before it)."""
        if self._start is None:
            return 0.0
        return self._read_clock() - self._start

    def _read_clock(self) -> float:
        return (self._clock or asyncio.get_running_loop().time)()

    def link_opened(self, description: str) -> int:
        """Mark a new link; the first one starts the clock. Returns the link's number (from 1)."""
        now = self._read_clock()
        if self._start is None:
            self._start = now
        self._links += 1
        self._put({"t": round(now - self._start, 6), "link": self._links, "event": "open", "to": description})
        return self._links

    def link_closed(self, link: int) -> None:
        """Mark link number ``link`` closed."""
        self._put({"t": self._t(), "link": link, "event": "closed"})

    def frame(self, direction: str, data: bytes) -> None:
        """Write one frame: ``direction`` is ``tx`` (to the device) or ``rx`` (from it)."""
        self._put({"t": self._t(), "dir": direction, "hex": data.hex()})

    def _t(self) -> float:
        return round(self.now(), 6)

    def _put(self, line: dict[str, object]) -> None:
        if not self._closed:
            self._lines.put(json.dumps(line))

    def close(self) -> None:
        """Hand the writer its last line; it writes what is queued and closes the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._lines.put(_CLOSE)

    async def aclose(self) -> None:
        """:meth:`close`, then wait (off the loop) until every line is on disk.

        A cancel while waiting leaves the writer finishing on its own.
        """
        self.close()
        await asyncio.to_thread(self._writer.join)
        atexit.unregister(self._finish)
        if self._failed is not None:
            logger.error("wire log %s is incomplete: %s", self.path, self._failed)

    def _finish(self) -> None:
        self.close()
        self._writer.join(timeout=_EXIT_WAIT_S)

    def _write_lines(self) -> None:
        with self._file:
            while (line := self._lines.get()) is not _CLOSE:
                if self._failed is not None:
                    continue  # keep draining so the loop side never grows a queue nobody reads
                try:
                    self._file.write(line + "\n")
                    if self._lines.empty():
                        self._file.flush()  # a crash then loses nothing already seen
                except OSError as e:
                    self._failed = e


class WireLogTransport(Transport):
    """A transport that writes every frame it carries to a :class:`WireLog`.

    Args:
        inner: the link itself.
        log: where frames go.
        framer: cuts a stream link's received bytes into frames (``None``: each chunk is one).
    """

    def __init__(self, inner: Transport, log: WireLog, *, framer: Framer | None = None) -> None:
        self._inner = inner
        self._log = log
        self._framer = None if inner.message_oriented else framer
        self._link: int | None = None
        self._last_rx: bytes | None = None
        self._last_rx_t = 0.0
        self.message_oriented = inner.message_oriented

    @property
    def description(self) -> str:
        return self._inner.description

    async def open(self) -> None:
        await self._inner.open()
        self._link = self._log.link_opened(self._inner.description)

    async def close(self) -> None:
        try:
            await self._inner.close()
        finally:
            if self._link is not None:
                self._log.link_closed(self._link)
                self._link = None

    async def send(self, data: bytes) -> None:
        # written before it goes: a send that fails midway may still have reached the device
        self._log.frame("tx", data)
        self._last_rx = None
        await self._inner.send(data)

    async def recv(self) -> bytes:
        chunk = await self._inner.recv()
        for frame in self._framer.feed(chunk) if self._framer is not None else [chunk]:
            self._received(frame)
        return chunk

    def _received(self, frame: bytes) -> None:
        now = self._log.now()
        if frame == self._last_rx and now - self._last_rx_t < REPEAT_EVERY_S:
            return
        self._last_rx, self._last_rx_t = frame, now
        self._log.frame("rx", frame)


@dataclass(frozen=True, slots=True)
class LoggedSource:
    """A :class:`~massager_ctl.registry.DeviceSource` whose every new link is wire-logged."""

    source: DeviceSource
    log: WireLog

    @property
    def profile(self) -> DeviceProfile:
        return self.source.profile

    @property
    def fit_head(self) -> Callable[[str], None] | None:
        return self.source.fit_head

    def new_transport(self) -> Transport:
        return WireLogTransport(self.source.new_transport(), self.log, framer=stream_framer(self.profile))


@contextlib.asynccontextmanager
async def open_wire_log(path: Path | None) -> AsyncIterator[WireLog | None]:
    """A :class:`WireLog` on ``path`` for the ``with`` block (``None``: no log), all lines written on exit.

    Raises:
        ConfigError: the file cannot be opened for writing.
    """
    if path is None:
        yield None
        return
    async with WireLog(path) as log:
        yield log
