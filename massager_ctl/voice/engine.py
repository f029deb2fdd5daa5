"""Speech synthesis with the local espeak-ng, ahead of time and off the event loop.

:class:`Espeak` turns one text into one WAV file (a blocking call, made on a
worker thread). :class:`CueAudio` synthesises every sound of a cue sheet on a
small thread pool as soon as it is started, first needed first, and hands
out the files: at once when ready (:meth:`CueAudio.ready`), or when done
(:meth:`CueAudio.wait`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from massager_ctl.errors import VoiceError
from massager_ctl.voice.limits import DEFAULT_RATE, DEFAULT_VOICE
from massager_ctl.voice.wavs import with_chime

if TYPE_CHECKING:
    from massager_ctl.voice.cues import Cue, CueSheet

log = logging.getLogger(__name__)

SYNTH_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Espeak:
    """The espeak-ng command-line synthesiser.

    Args:
        binary: path of the ``espeak-ng`` program.
        rate: words per minute (``-s``).
        voice: an espeak-ng voice name (``-v``).
    """

    binary: str
    rate: int = DEFAULT_RATE
    voice: str = DEFAULT_VOICE

    @classmethod
    def find(cls, *, rate: int = DEFAULT_RATE, voice: str = DEFAULT_VOICE) -> Espeak | None:
        """The installed espeak-ng, or ``None`` when it is not on the PATH."""
        binary = shutil.which("espeak-ng")
        return cls(binary, rate=rate, voice=voice) if binary else None

    def synthesise(self, text: str, out: Path) -> None:
        """Speak ``text`` into the WAV file ``out`` (blocks: call it from a worker thread).

        Raises:
            VoiceError: espeak-ng could not be run, failed, or wrote nothing.
        """
        command = [self.binary, "-v", self.voice, "-s", str(self.rate), "-w", str(out), "--", text]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=SYNTH_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as e:
            raise VoiceError(f"espeak-ng took more than {SYNTH_TIMEOUT_S:g} s to speak {text[:40]!r}") from e
        except OSError as e:
            raise VoiceError(f"cannot run espeak-ng ({self.binary}): {e}") from e
        detail = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
        if result.returncode != 0:
            raise VoiceError(f"espeak-ng failed on {text[:40]!r}: {detail}")
        # espeak-ng exits 0 even when it cannot write its file
        if not out.exists() or out.stat().st_size <= 44:  # a WAV header and no audio
            raise VoiceError(f"espeak-ng wrote no audio for {text[:40]!r}: {detail}")


class CueAudio:
    """The WAV file of every cue of a sheet, synthesised ahead of time.

    Args:
        engine: the synthesiser.
        workdir: where the files go (the caller owns and removes it).
        workers: synthesis processes at once.
    """

    def __init__(self, engine: Espeak, workdir: Path, *, workers: int = 2) -> None:
        self._engine = engine
        self._workdir = workdir
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voice")
        self._files: dict[tuple[str, bool], concurrent.futures.Future[Path]] = {}

    def start(self, sheet: CueSheet) -> None:
        """Queue every distinct sound of ``sheet`` for synthesis, first needed first; returns at once."""
        for cue in sheet.unique():
            self.add(cue)

    def add(self, cue: Cue) -> None:
        """Queue one more sound (one whose words were not known ahead); returns at once."""
        key = (cue.text, cue.chime)
        if key not in self._files:
            self._files[key] = self._pool.submit(self._make, cue)

    def ready(self, cue: Cue) -> Path | None:
        """The cue's file if it is ready; ``None`` while it is being made or if it failed."""
        future = self._files.get((cue.text, cue.chime))
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return None
        return future.result()

    async def wait(self, cue: Cue) -> Path:
        """The cue's file, once made.

        Raises:
            VoiceError: the cue was never queued, or synthesising it failed.
        """
        future = self._files.get((cue.text, cue.chime))
        if future is None:
            raise VoiceError(f"no audio was queued for the cue {cue.text[:40]!r}")
        return await asyncio.wrap_future(future)

    async def wait_all(self) -> None:
        """Wait until every queued sound is made or has failed.

        Raises:
            VoiceError: the first failure (the others still finish).
        """
        futures = [asyncio.wrap_future(f) for f in self._files.values()]
        results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def close(self) -> None:
        """Drop what is still queued and let the running syntheses finish on their own."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _make(self, cue: Cue) -> Path:
        digest = hashlib.sha1(f"{cue.chime}:{cue.text}".encode()).hexdigest()[:16]
        out = self._workdir / f"{digest}.wav"
        self._engine.synthesise(cue.text, out)
        if cue.chime:
            try:
                out.write_bytes(with_chime(out.read_bytes()))
            except OSError as e:
                raise VoiceError(f"cannot add the chime to {out}: {e}") from e
        log.debug("synthesised %s: %r", out.name, cue.text)
        return out
