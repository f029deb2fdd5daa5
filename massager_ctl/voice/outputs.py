"""Where due cues go: the system's audio output, or WAV files and ``cues.jsonl`` in a directory.

Both take a cue with :meth:`play`, which returns at once: a speaker plays in
a subprocess on its own task, a directory is written on the spot (a copy of a
small file and one JSON line).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import IO, Protocol

from massager_ctl.errors import VoiceError
from massager_ctl.voice.cues import Cue

log = logging.getLogger(__name__)

#: Players tried in this order; the first on the PATH is used.
PLAYERS: tuple[tuple[str, ...], ...] = (("pw-play",), ("paplay",), ("aplay", "-q"))
#: A queued cue that could not start within this many seconds is dropped: it would be out of date.
STALE_S = 5.0


class CueOutput(Protocol):
    def play(self, cue: Cue, wav: Path, *, t: float, urgent: bool) -> None:
        """Say ``cue`` (its audio is ``wav``) at session time ``t``; ``urgent`` cuts off what is playing."""

    async def aclose(self, *, drain_s: float) -> None:
        """Give what is playing up to ``drain_s`` seconds to finish, then stop."""


def find_player() -> list[str] | None:
    """The command that plays a WAV file on this system's audio output, or ``None``."""
    for command in PLAYERS:
        path = shutil.which(command[0])
        if path:
            return [path, *command[1:]]
    return None


class DirectoryOutput:
    """Writes each cue as a numbered WAV file and one line of ``cues.jsonl`` in ``directory``.

    Raises:
        VoiceError: (on creation) the directory cannot be made or written.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._count = 0
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._index: IO[str] = (directory / "cues.jsonl").open("w", encoding="utf-8")
        except OSError as e:
            raise VoiceError(f"cannot write the cues to {directory}: {e}") from e

    def play(self, cue: Cue, wav: Path, *, t: float, urgent: bool) -> None:
        self._count += 1
        key = f"-{cue.key}" if cue.key is not None else ""
        name = f"{self._count:03d}-{cue.kind}{key}.wav"
        try:
            shutil.copyfile(wav, self.directory / name)
            line = {"t": round(t, 4), "kind": cue.kind, "text": cue.text, "file": name}
            if isinstance(cue.key, int):
                line["step"] = cue.key
            self._index.write(json.dumps(line) + "\n")
            self._index.flush()
        except OSError as e:
            # the session goes on without its cue files: say so once per failure, never stop it
            log.warning("cannot write the cue %s to %s: %s", name, self.directory, e)

    async def aclose(self, *, drain_s: float) -> None:
        self._index.close()


class SpeakerOutput:
    """Plays cues one at a time through ``command`` (e.g. ``aplay -q``) in a subprocess.

    An urgent cue cuts off the one playing and anything queued; others wait
    their turn, and are dropped if they could not start within :data:`STALE_S`.
    """

    def __init__(self, command: list[str]) -> None:
        self._command = command
        self._queue: collections.deque[tuple[Path, float]] = collections.deque()
        self._wake = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self._closing = False
        self._failed = False
        self._cuts = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.create_task(self._play_queue(), name="voice-speaker")

    def play(self, cue: Cue, wav: Path, *, t: float, urgent: bool) -> None:
        if urgent:
            self._queue.clear()
            self._cut()
        self._queue.append((wav, asyncio.get_running_loop().time()))
        self._idle.clear()
        self._wake.set()

    async def drained(self) -> None:
        """Wait until everything handed to :meth:`play` has been played (or dropped)."""
        await self._idle.wait()

    async def aclose(self, *, drain_s: float) -> None:
        self._closing = True
        self._wake.set()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_s):
                    await asyncio.shield(self._task)
        finally:  # cancelled or not, no player process outlives the session
            self._queue.clear()
            self._cut()
            self._task.cancel()
        await asyncio.wait([self._task])  # its end, without taking a cancel meant for the caller

    def _cut(self) -> None:
        self._cuts += 1
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def _play_queue(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self._queue:
                    self._idle.set()
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                wav, queued_at = self._queue.popleft()
                if loop.time() - queued_at > STALE_S:
                    continue
                await self._play_one(wav)
        finally:
            self._idle.set()
            self._cut()
            if self._process is not None and self._process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    await self._process.wait()

    async def _play_one(self, wav: Path) -> None:
        cuts = self._cuts
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self._command,
                str(wav),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as e:
            if not self._failed:
                self._failed = True
                log.warning("cannot play the spoken cues with %s: %s", self._command[0], e)
            return
        if self._cuts != cuts:  # cut off while it was starting
            self._cut()
        await self._process.wait()
