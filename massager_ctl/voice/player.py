"""The cue player: a bus subscriber that says each cue when it is due, on the session clock.

It follows the session's events on its own task: a step's start, a wait for
the person, a pause, a warning notice and the end are said as their events
arrive; the warning before a step ends, and the next step's start, are timers
on the loop, set from the step's deadline and moved by pauses, extensions and
reconnects. The engine never waits for it: events reach it through a bounded
bus buffer, and audio plays in a subprocess.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from massager_ctl.errors import VoiceError
from massager_ctl.events import (
    BaseEvent,
    Confirmed,
    Notice,
    Paused,
    Reconnected,
    Resumed,
    SessionFinished,
    StepExtended,
    StepFinished,
    StepStarted,
    Subscription,
    Suspended,
    WaitingForConfirm,
)
from massager_ctl.voice.cues import WARN_S, Cue, CueKind, CueSheet, notice_cue
from massager_ctl.voice.engine import CueAudio
from massager_ctl.voice.outputs import CueOutput

log = logging.getLogger(__name__)

#: Kinds that cut off whatever is being said: the moment has changed, the old words are out of date.
URGENT: frozenset[CueKind] = frozenset({"step", "paused", "suspended", "end"})
#: A warning due sooner than this after it is set is not said (a step resumed with seconds left).
MIN_LEAD_S = 0.5


@dataclass(frozen=True, slots=True)
class SessionClock:
    """Session time (seconds since the session started, in routine time) and the loop time it maps to.

    Args:
        now: the session time now.
        loop_time: the loop time at which the session clock reads ``t``.
    """

    now: Callable[[], float]
    loop_time: Callable[[float], float]


class CuePlayer:
    """Says a sheet's cues as a session's events and timers make them due.

    A step's start is said on a timer at the current step's deadline, so the
    words do not wait for the event to travel; the event itself says it only
    when the timer did not (the first step, a skip, a wait for the person).

    Args:
        sheet: every cue of the session.
        audio: the cues' WAV files (synthesised ahead of time).
        output: where due cues go.
        clock: the session clock.
    """

    def __init__(self, sheet: CueSheet, audio: CueAudio, output: CueOutput, *, clock: SessionClock) -> None:
        self._sheet = sheet
        self._audio = audio
        self._output = output
        self._clock = clock
        self._step: int | None = None
        self._said_start: int | None = None
        self._duration = 0.0
        self._timing = False
        self._timers: list[asyncio.TimerHandle] = []
        self._late: set[asyncio.Task[None]] = set()

    async def follow(self, subscription: Subscription) -> None:
        """Say cues for each event until the subscription ends; then wait for cues still being made."""
        try:
            async for event in subscription:
                self.handle(event)
            if self._late:
                await asyncio.wait(self._late)
        finally:
            self._disarm()
            for task in self._late:
                task.cancel()

    def say(self, cues: list[Cue], *, t: float | None = None) -> None:
        """Hand ``cues`` to the output now (at session time ``t``, default the clock's)."""
        for cue in cues:
            wav = self._audio.ready(cue)
            if wav is None:
                task = asyncio.create_task(self._say_when_made(cue), name=f"voice-late-{cue.kind}")
                self._late.add(task)
                task.add_done_callback(self._late.discard)
                continue
            self._output.play(cue, wav, t=self._clock.now() if t is None else t, urgent=cue.kind in URGENT)

    def handle(self, event: BaseEvent) -> None:
        """Say what ``event`` calls for, and move the timers of the current step."""
        match event:
            case StepStarted():
                self._disarm()
                self._step, self._duration, self._timing = event.index, event.duration_s, True
                self._start(event.index)
                self._arm(event.session_t + event.duration_s)
            case WaitingForConfirm():
                self._disarm()
                self._timing = False
                self.say(self._sheet.at(event.reason, event.index))
            case Confirmed():
                self._timing = True
                self._arm(event.session_t + self._duration)
            case Paused():
                self._disarm()
                self._timing = False
                self.say(self._sheet.at("paused"))
            case Resumed():
                self._timing = True
                self.say(self._sheet.at("resumed"))
                self._arm(event.session_t + event.remaining_s)
            case StepExtended():
                self._duration += event.by_s
                if self._timing:
                    self._arm(event.session_t + event.remaining_s)
            case Suspended():
                self._disarm()
                self.say(self._sheet.at("suspended"))
            case Reconnected():
                self.say(self._sheet.at("reconnected"))
                if self._timing:
                    self._arm(event.session_t + event.remaining_s)
            case StepFinished():
                self._disarm()
                self._timing = False
            case Notice(level="warning"):
                cue = notice_cue(event.message)
                self._audio.add(cue)
                self.say([cue])
            case SessionFinished():
                self._disarm()
                self.say(self._sheet.at("end", event.status))
            case _:
                pass

    def _start(self, index: int) -> None:
        if self._said_start != index:
            self._said_start = index
            self.say(self._sheet.at("step_start", index))

    def _arm(self, deadline: float) -> None:
        """Set the current step's warning and the next step's start from the step's ``deadline``."""
        self._disarm()
        if self._step is None:
            return
        loop = asyncio.get_running_loop()
        now = self._clock.now()
        warning = self._sheet.at("warning", self._step)
        due = deadline - WARN_S
        if warning and due >= now + MIN_LEAD_S:
            self._timers.append(loop.call_at(self._clock.loop_time(due), self.say, warning))
        self._timers.append(loop.call_at(self._clock.loop_time(deadline), self._start, self._step + 1))

    def _disarm(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    async def _say_when_made(self, cue: Cue) -> None:
        # late, because synthesis has not caught up: said as soon as it is ready, with the true time
        try:
            wav = await self._audio.wait(cue)
        except VoiceError as e:
            log.warning("cue not spoken: %s", e)
            return
        self._output.play(cue, wav, t=self._clock.now(), urgent=cue.kind in URGENT)
