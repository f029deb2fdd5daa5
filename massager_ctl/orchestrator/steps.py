"""The step loop: one step from its start to its end, with the person, the controls and the link.

A step may first wait for the person (a manual head to fit, a confirm); its
time then runs to the deadline the :class:`Timeline` keeps, while the
:class:`Actuator` ramps and keeps heat in budget, and the signals in the
:class:`Inbox` (controls, link losses, the watchdog) are handled as they come.
A lost link suspends the step and the :class:`LinkSupervisor` reconnects; the
step then comes back in the state it was in, with the time it had left.
"""

from __future__ import annotations

import math
from typing import Literal

from massager_ctl.drivers.base import DeviceState
from massager_ctl.events import (
    Confirmed,
    IntensityNudged,
    Notice,
    Paused,
    Reconnected,
    Resumed,
    StepExtended,
    StepFinished,
    StepStarted,
    Suspended,
    WaitingForConfirm,
)
from massager_ctl.orchestrator.actuator import Actuator
from massager_ctl.orchestrator.clock import SessionClock
from massager_ctl.orchestrator.controls import SessionState
from massager_ctl.orchestrator.link import LinkSupervisor
from massager_ctl.orchestrator.person import Person
from massager_ctl.orchestrator.plan import Plan, ResolvedStep
from massager_ctl.orchestrator.reporter import Reporter
from massager_ctl.orchestrator.signals import Inbox, LinkDown, Signal, StopSession
from massager_ctl.orchestrator.timeline import EPS, Request, Timeline

Outcome = Literal["completed", "skipped", "stopped"]
ConfirmedBy = Literal["user", "auto", "device"]


class StepRunner:
    """Runs the plan's steps one at a time for a session; the parts are the session's own."""

    def __init__(
        self,
        plan: Plan,
        *,
        timeline: Timeline,
        actuator: Actuator,
        link: LinkSupervisor,
        inbox: Inbox,
        events: Reporter,
        clock: SessionClock,
        person: Person,
    ) -> None:
        self._plan = plan
        self._timeline = timeline
        self._actuator = actuator
        self._link = link
        self._inbox = inbox
        self._events = events
        self._clock = clock
        self._person = person
        self._fitted: str | None = None
        self._cap_s = plan.caps.max_session_minutes * 60

    async def run(self, step: ResolvedStep) -> None:
        """Run ``step`` to its end.

        Raises:
            StopSession, AbortSession, HelperFailed: the session ends (the step is reported stopped).
        """
        self._timeline.begin_step(step)
        self._actuator.begin_step()
        self._events.emit(
            StepStarted,
            index=step.index,
            title=step.title,
            planned_start_s=step.planned_start_s,
            duration_s=step.duration_s,
            head=step.head.id if step.head else None,
            intensity=self._actuator.target_level(step),
            heat=self._plan.heat_name(step.heat),
            prompt=step.prompt,
            tool=step.tool,
            area=step.area,
            side=step.side,
        )
        try:
            outcome: Outcome = "skipped"
            if await self._wait_for_person(step):
                outcome = await self._timed(step)
        except BaseException:  # stopped, cancelled or failed: the step ends here either way
            self._finish(step, "stopped")
            raise
        self._finish(step, outcome)

    def _finish(self, step: ResolvedStep, outcome: Outcome) -> None:
        self._timeline.finish_step()
        self._events.emit(StepFinished, index=step.index, title=step.title, outcome=outcome)

    # ------------------------------------------------------------------ the person

    def _current_head(self) -> str | None:
        """The fitted head: as the device detects it, else as the person last confirmed it."""
        driver = self._link.driver
        reported = driver.state.head if driver is not None else None
        if self._plan.profile.head_detection and reported is not None:
            return reported
        return self._fitted or reported

    def _request(self, step: ResolvedStep) -> Request | None:
        """What the person must do before the step's time starts, if anything."""
        head = step.head
        fit: str | None = None
        if head is not None and head.change == "manual" and self._current_head() != head.id:
            fit = f"fit the {head.name} head ({head.use})" if head.use else f"fit the {head.name} head"
        if todo := self._heat_todo(step, fit):
            text = f"{_sentence(todo)}, then confirm." + (f" Next: {step.prompt}" if step.prompt else "")
            fitting = head.id if head is not None and fit is not None else None
            return Request(step.index, "head_change" if fitting else "confirm", fitting, text)
        if step.confirm:
            return Request(step.index, "confirm", None, step.prompt or step.title)
        return None

    def _heat_todo(self, step: ResolvedStep, fit: str | None) -> list[str]:
        """What the person does before the step: ``fit``, and on a massager they set by hand, the heat.

        A heat change there waits for their confirm like a head does, so its time (and its heat budget)
        counts from the confirm. A wait holds heat off: heat on now is switched off first, and switched
        (back) on last, just before the confirm.
        """
        todo = [fit] if fit else []
        if not self._plan.profile.set_by_person:
            return todo
        actuator = self._actuator
        now = actuator.heat_level
        waits = bool(todo) or step.confirm or actuator.heat_target(step.heat) != now
        if not waits:
            return todo
        after = actuator.heat_target(step.heat if step.heat is not None else 0)
        off_first = bool(now) and bool(todo or step.confirm or not after)
        if off_first:
            todo.insert(0, "switch the heat off")
        if after:
            todo.append(f"switch {'it back' if off_first else 'the heat'} to {self._plan.heat_name(after)}")
        return todo

    async def _wait_for_person(self, step: ResolvedStep) -> bool:
        """Hold the device and wait for the person when the step needs them; False when skipped."""
        request = self._request(step)
        if request is None:
            return True
        self._timeline.ask(request, self._clock.now())
        self._events.emit(
            WaitingForConfirm,
            index=step.index,
            reason=request.reason,
            head=request.head,
            prompt=request.prompt,
        )
        try:
            by = await self._answer(request)
        finally:
            self._timeline.answered()
        self._timeline.start_at(self._clock.now())
        if by is None:
            return False
        if request.head is not None:
            self._fitted = request.head
        self._events.emit(Confirmed, index=step.index, by=by)
        return True

    async def _answer(self, request: Request) -> ConfirmedBy | None:
        """Who confirmed, once someone has; ``None`` when the step is skipped."""
        held = asked = False
        while True:
            try:
                if not held:
                    # Motor and heat off while the person gets ready: an endless wait must not
                    # keep heat on (the step's heat comes back when its time starts).
                    await self._actuator.hold()
                    held = True
                if not asked:
                    asked = True
                    if self._person.asked(request):
                        return "auto"
                # Checked on every pass, not only on a "head_seen" signal: any signal (or a reconnect)
                # brings us back here, and the head may have been fitted meanwhile.
                driver = self._link.driver
                if request.head is not None and driver is not None and driver.state.head == request.head:
                    return "device"
                signal = await self._inbox.next(None)
                if signal is None:
                    continue
                if signal.kind == "confirm":
                    return "user"
                if signal.kind == "skip":
                    return None
                self._end_on(signal)
            except LinkDown as e:
                await self._recover(str(e))
                held = False

    def _end_on(self, signal: Signal) -> None:
        """Raise what ends the wait or the step: a stop, or the loss of the current link."""
        if signal.kind == "stop":
            raise StopSession(signal.value)
        if signal.kind == "link_lost" and self._link.is_current(signal.value[0]):
            raise LinkDown(signal.value[1])

    # ------------------------------------------------------------------ the step's time

    async def _timed(self, step: ResolvedStep) -> Literal["completed", "skipped"]:
        timeline = self._timeline
        timeline.start_timing(self._clock.now())
        apply = True
        while True:
            try:
                if apply:
                    apply = False
                    if timeline.state is SessionState.PAUSED:
                        await self._actuator.hold()
                    else:
                        await self._actuator.apply(step)
                    continue
                if timeline.state is SessionState.PAUSED:
                    signal = await self._inbox.next(None)
                else:
                    now = self._clock.now()
                    if await self._due(now):
                        continue
                    if timeline.ran_out(now):
                        timeline.complete_step()
                        return "completed"
                    wake = [timeline.deadline, now + self._cap_s - timeline.active_s(now)]
                    signal = await self._inbox.next(min(wake + self._actuator.wake_times(now)))
                if signal is None:
                    continue
                outcome = await self._handle(step, signal)
                if outcome == "skipped":
                    timeline.start_at(self._clock.now())
                    return "skipped"
                if outcome == "apply":
                    apply = True
            except LinkDown as e:
                await self._recover(str(e))
                apply = True

    async def _due(self, now: float) -> bool:
        """Stop at the session cap, else do the actuator's due work; whether there was some.

        Raises:
            StopSession: the session reached the user's cap.
        """
        if self._timeline.active_s(now) >= self._cap_s - EPS:
            raise StopSession(f"reached your session cap of {self._plan.caps.max_session_minutes:g} min")
        return await self._actuator.do_due(now, self._timeline.deadline)

    async def _handle(self, step: ResolvedStep, signal: Signal) -> Literal["skipped", "apply"] | None:
        timeline, now = self._timeline, self._clock.now()
        paused = timeline.state is SessionState.PAUSED
        index = step.index
        match signal.kind:
            case "skip":
                return "skipped"
            case "pause" if not paused:
                remaining = timeline.pause(now)
                self._events.emit(Paused, index=index, remaining_s=round(remaining, 6))
                return "apply"
            case "resume" if paused:
                remaining = timeline.resume(now)
                self._events.emit(Resumed, index=index, remaining_s=round(remaining, 6))
                return "apply"
            case "extend":
                seconds = float(signal.value)
                remaining = timeline.extend(seconds, now)
                self._events.emit(StepExtended, index=index, by_s=seconds, remaining_s=round(remaining, 6))
            case "intensity" if step.level:
                level = self._actuator.nudge_to(step, int(signal.value))
                self._events.emit(IntensityNudged, index=index, offset=self._actuator.offset, level=level)
                if not paused:
                    self._actuator.start_ramp(level, None)
            case "heat" if not paused:
                await self._actuator.apply_heat(step.heat)
            case "reapply" if self._link.is_current(signal.value) and not paused:
                self._events.emit(
                    Notice, level="warning", message="the device's watchdog stopped it; setting it again"
                )
                self._actuator.forget_level()
                return "apply"
            case _:
                self._end_on(signal)
        return None

    # ------------------------------------------------------------------ the link

    async def _recover(self, reason: str) -> None:
        """Suspend, reconnect with backoff, and come back in the state the step was in.

        Raises:
            AbortSession: every reconnect attempt failed.
            StopSession: the person stopped the session meanwhile.
        """
        now = self._clock.now()
        before, remaining = self._timeline.suspend(now)
        index = self._timeline.index
        self._events.emit(Suspended, index=index, reason=reason, remaining_s=round(remaining, 6))
        # the device heard the healthy link's last frame by now and nothing after it but "off": its
        # watchdog has stopped it by then at the latest; without one, the reconnect's confirmed stop did
        silence_stop_s = self._plan.profile.silence_stop_s
        off_by = now + (silence_stop_s if silence_stop_s is not None else math.inf)
        attempts = await self._link.reconnect(reason)
        self._actuator.restart_from_off(heat_off_by=off_by)
        self._timeline.restore(before, self._clock.now())
        self._events.emit(Reconnected, index=index, attempts=attempts, remaining_s=round(remaining, 6))
        if self._link.driver is not None:
            self._events.device(self._link.driver.state)


class DeviceWatch:
    """What the session makes of the device watcher's news (a :class:`~.link.LinkObserver`)."""

    def __init__(self, timeline: Timeline, inbox: Inbox, events: Reporter) -> None:
        self._timeline, self._inbox, self._events = timeline, inbox, events

    def device_state(self, state: DeviceState, *, generation: int, newly_tripped: bool) -> None:
        self._events.device(state)
        if not state.connected:
            return
        if newly_tripped and self._timeline.state is SessionState.RUNNING:
            self._inbox.put(Signal("reapply", generation))
        waiting = self._timeline.waiting
        if waiting is not None and waiting.head is not None and state.head == waiting.head:
            self._inbox.put(Signal("head_seen"))

    def link_lost(self, generation: int, reason: str) -> None:
        self._inbox.put(Signal("link_lost", (generation, reason)))


def _sentence(parts: list[str]) -> str:
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]
