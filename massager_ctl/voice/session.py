"""Spoken cues for one session: the choice from the command line, and the wiring around a run.

:func:`voice_settings` turns ``--voice/--no-voice``, ``--voice-rate`` and
``--audio-out`` into settings (or ``None``: no voice), refusing what cannot
work before anything moves. :func:`spoken_cues` wraps a session's run: it
plans the cues, starts synthesising them, says the safety notes, follows the
session's events on its own task, and lets the last words finish at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from massager_ctl.errors import ConfigError
from massager_ctl.orchestrator import Session
from massager_ctl.orchestrator.controls import SessionState
from massager_ctl.voice.cues import DEFAULT_RULES, CueRule, plan_cues
from massager_ctl.voice.engine import CueAudio, Espeak
from massager_ctl.voice.limits import MAX_RATE, MIN_RATE
from massager_ctl.voice.outputs import CueOutput, DirectoryOutput, SpeakerOutput, find_player
from massager_ctl.voice.player import CuePlayer, SessionClock

log = logging.getLogger(__name__)

#: How long the last words (the end of the session) may take to finish playing.
DRAIN_S = 15.0


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How a session speaks: the synthesiser, and a player command or a directory to write to."""

    engine: Espeak
    player: list[str] | None = None
    audio_out: Path | None = None


def voice_settings(
    *, voice: bool | None, rate: int, audio_out: Path | None, notice: Callable[[str], None]
) -> VoiceSettings | None:
    """The voice settings from the command line; ``None`` when the session stays silent.

    Args:
        voice: ``--voice`` (True), ``--no-voice`` (False) or neither (None: on where audio output exists).
        rate: ``--voice-rate``, words per minute.
        audio_out: ``--audio-out DIR``: write the cues there instead of playing them.
        notice: says one line when the voice is off by default because something is missing.

    Raises:
        ConfigError: the options contradict each other, the rate is out of range, or what was
            asked for (espeak-ng, an audio player) is not installed.
    """
    if voice is False:
        if audio_out is not None:
            raise ConfigError("--audio-out writes spoken cues; it cannot go with --no-voice")
        return None
    if audio_out is not None and audio_out.exists() and not audio_out.is_dir():
        raise ConfigError(f"--audio-out {audio_out} is a file; give a directory to write the cues to")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ConfigError(f"--voice-rate must be {MIN_RATE}–{MAX_RATE} words per minute, not {rate}")
    engine = Espeak.find(rate=rate)
    player = None if audio_out is not None else find_player()
    missing = None
    if engine is None:
        missing = "the speech engine espeak-ng is not installed (Debian: apt-get install espeak-ng)"
    elif audio_out is None and player is None:
        missing = "no audio player found (pw-play, paplay or aplay)"
    if missing is None:
        assert engine is not None
        return VoiceSettings(engine=engine, player=player, audio_out=audio_out)
    if voice is None and audio_out is None:
        notice(f"voice off: {missing}")
        return None
    raise ConfigError(f"{'--audio-out' if audio_out is not None else '--voice'} needs speech: {missing}")


def session_clock(session: Session) -> SessionClock:
    """The clock of ``session`` (reads 0 until the session has started)."""
    loop = asyncio.get_running_loop()

    def now() -> float:
        if session.state in (SessionState.IDLE, SessionState.PREPARING):
            return 0.0
        return (loop.time() - session.t0) * session.speed

    return SessionClock(now=now, loop_time=lambda t: session.t0 + t / session.speed)


@contextlib.asynccontextmanager
async def spoken_cues(
    session: Session, settings: VoiceSettings, *, rules: Sequence[CueRule] = DEFAULT_RULES
) -> AsyncIterator[CuePlayer]:
    """Speak ``session``'s cues (planned by ``rules``); enter before the session runs, leave once its
    bus is closed.

    On entering: every cue is queued for synthesis, the safety notes are said
    (and heard out, when played aloud), and the cues are ready before the
    session is let go (synthesis takes a fraction of a second per cue). On
    leaving: the last cue is given time to finish.

    Raises:
        VoiceError: the synthesiser failed before the session started.
    """
    sheet = plan_cues(session.plan, rules=rules)
    subscription = session.bus.subscribe(maxsize=1024, name="voice")
    with tempfile.TemporaryDirectory(prefix="massager-voice-") as workdir:
        audio = CueAudio(settings.engine, Path(workdir))
        output: CueOutput
        if settings.audio_out is not None:
            output = DirectoryOutput(settings.audio_out)
        else:
            assert settings.player is not None
            output = SpeakerOutput(settings.player)
        player = CuePlayer(sheet, audio, output, clock=session_clock(session))
        task: asyncio.Task[None] | None = None
        drain_s = 0.0
        try:
            audio.start(sheet)
            before = sheet.at("before")
            for cue in before:
                await audio.wait(cue)
            player.say(before, t=0.0)
            if isinstance(output, SpeakerOutput):
                await output.drained()
            # bounded by each synthesis' own timeout, in real time: a timeout on the loop clock would
            # lapse at once under a virtual clock (looptime, rehearsals)
            await audio.wait_all()
            task = asyncio.create_task(player.follow(subscription), name="voice-cues")
            yield player
            drain_s = DRAIN_S
        finally:
            subscription.close()
            try:
                if task is not None:
                    # the player drains what the session said last (the end), then stops
                    await asyncio.wait([task], timeout=5.0)
                    task.cancel()
                    await asyncio.wait([task])
                    if not task.cancelled() and task.exception() is not None:
                        log.error("the spoken cues failed", exc_info=task.exception())
            finally:
                try:
                    await output.aclose(drain_s=drain_s)
                finally:
                    audio.close()
