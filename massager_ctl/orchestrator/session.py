"""The session engine: one routine on one device, on the event loop's clock.

Timing uses absolute deadlines: a step that runs its course ends at
``t0 + planned cumulative time (+ shifts)``, and the next one starts at that
deadline, not when the loop got round to it. Pauses, waits for the person and
link outages shift the remaining plan by their length. Every path out of
:meth:`Session.run` drives the device to motor off and heat off, confirmed.

Controls (:meth:`Session.pause`, ``resume``, ``skip``, ``stop``, ``extend``,
``nudge``, ``set_intensity``, ``confirm``) may be called from any task on the
loop; they check the current state, raise :class:`ControlError` when they do
not apply, and otherwise queue a signal that the engine handles at once.

The engine is split in three: this module (controls, the run and the step
loop), :mod:`.recovery` (reconnects and the final safe stop) and
:mod:`.actuation` (device settings, ramps and the heat budget).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal

from massager_ctl.drivers.base import DeviceState, Driver
from massager_ctl.errors import MassagerError
from massager_ctl.events import (
    BaseEvent,
    Confirmed,
    DeviceStateEvent,
    EventBus,
    IntensityNudged,
    Notice,
    Paused,
    Progress,
    Resumed,
    SessionFinished,
    SessionStarted,
    SessionStatus,
    StepExtended,
    StepFinished,
    StepStarted,
    WaitingForConfirm,
)
from massager_ctl.orchestrator.actuation import EPS, LinkDown
from massager_ctl.orchestrator.controls import RECONNECT, ControlError, SessionResult, SessionState
from massager_ctl.orchestrator.plan import Plan, ResolvedStep
from massager_ctl.orchestrator.recovery import Recovery
from massager_ctl.orchestrator.safety import drive_safe, shielded
from massager_ctl.orchestrator.signals import AbortSession, HelperFailed, Signal, StopSession
from massager_ctl.orchestrator.snapshot import SessionSnapshot
from massager_ctl.retry import Backoff

log = logging.getLogger(__name__)

#: Opens a new link to the session's device and returns the opened driver.
Connector = Callable[[], Awaitable[Driver]]

#: Controls queued at most before the engine takes them; more are refused (the engine's own signals,
#: and a stop, are always taken).
MAX_SIGNALS = 64
_HELD = {SessionState.PAUSED, SessionState.WAITING_FOR_CONFIRM, SessionState.SUSPENDED}
_CONTROLS = {"pause", "resume", "skip", "extend", "intensity", "confirm"}


class Session(Recovery):
    """Runs one resolved :class:`Plan` on one device.

    Args:
        plan: the routine resolved for the device's model (see :func:`preflight`).
        connect: opens a link to the device; called again to reconnect after a drop.
        device_url: shown in events and the journal.
        bus: where events go; the session never closes it.
        auto_confirm: confirm every wait for the person at once (``--yes``).
        speed: the session clock runs this many times faster than the loop clock
            (for a simulator whose firmware clocks run at the same speed).
        reconnect: how often and how patiently to reconnect after a drop.
        progress_every_s: session seconds between ``progress`` events.
        close_device: close the driver when the session ends.
        fit_head: plays the person's part when ``auto_confirm`` confirms a manual head
            change on a simulator (it swaps the head on the simulated device).
    """

    def __init__(
        self,
        plan: Plan,
        *,
        connect: Connector,
        device_url: str,
        bus: EventBus | None = None,
        auto_confirm: bool = False,
        speed: float = 1.0,
        reconnect: Backoff | None = None,
        progress_every_s: float = 1.0,
        close_device: bool = True,
        session_id: str | None = None,
        fit_head: Callable[[str], None] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be more than 0")
        super().__init__(plan)
        self.id = session_id or uuid.uuid4().hex[:12]
        self.plan = plan
        self.bus = bus if bus is not None else EventBus()
        self.device_url = device_url
        self.auto_confirm = auto_confirm
        self.speed = speed
        self._connect = connect
        self._reconnect = reconnect or RECONNECT
        self._progress_every_s = progress_every_s
        self._close_device = close_device
        self._fit_head = fit_head
        self._fitted: str | None = None

        self._state = SessionState.IDLE
        self._driver: Driver | None = None
        self._generation = 0
        self._watcher: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._signals: collections.deque[Signal] = collections.deque()
        self._wake = asyncio.Event()
        self._stop_reason: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_t0 = 0.0
        self._finishing = False

        self._step: ResolvedStep | None = None
        self._step_duration = 0.0
        self._deadline = 0.0
        self._remaining = 0.0
        self._next_start = 0.0
        self._done_s = 0.0
        self._extended_s = 0.0
        self._offset = 0
        self._waiting: tuple[Literal["confirm", "head_change"], str | None] | None = None
        self._held_s = 0.0
        self._held_since: float | None = None
        self._result: SessionResult | None = None

    # ------------------------------------------------------------------ public view

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def result(self) -> SessionResult | None:
        """How the session ended, once it has."""
        return self._result

    @property
    def t0(self) -> float:
        """The loop time at which the session clock reads 0."""
        return self._loop_t0

    @property
    def driver(self) -> Driver | None:
        """The driver of the current link (``None`` while disconnected)."""
        return self._driver

    def snapshot(self) -> SessionSnapshot:
        """Where the session stands now."""
        step = self._step
        step_elapsed = self._step_elapsed()
        return SessionSnapshot(
            session_id=self.id,
            routine_id=self.plan.routine.id,
            routine_title=self.plan.routine.title,
            device=self.device_url,
            model=self.plan.profile.id,
            state=self._state.value,
            index=step.index if step else 0,
            steps=len(self.plan.steps),
            step_title=step.title if step else None,
            prompt=step.prompt if step else None,
            waiting_for=self._waiting[0] if self._waiting else None,
            head_to_fit=self._waiting[1] if self._waiting else None,
            step_elapsed_s=round(step_elapsed, 3),
            step_remaining_s=round(max(0.0, self._step_duration - step_elapsed), 3),
            session_elapsed_s=round(self._done_s + step_elapsed, 3),
            session_remaining_s=round(max(0.0, self._session_duration() - self._done_s - step_elapsed), 3),
            intensity_offset=self._offset,
            status=self._result.status if self._result else None,
            reason=self._result.reason if self._result else None,
        )

    # ------------------------------------------------------------------ controls

    def pause(self) -> None:
        """Hold the motor and heat and keep the step's remaining time.

        Raises:
            ControlError: the session is not running.
        """
        self._require({SessionState.RUNNING}, "pause")
        self._signal(Signal("pause"))

    def resume(self) -> None:
        """Continue a paused step with the time it had left.

        Raises:
            ControlError: the session is not paused.
        """
        self._require({SessionState.PAUSED}, "resume")
        self._signal(Signal("resume"))

    def skip(self) -> None:
        """End the current step now and start the next one.

        Raises:
            ControlError: no step is under way.
        """
        self._require({SessionState.RUNNING, SessionState.PAUSED, SessionState.WAITING_FOR_CONFIRM}, "skip")
        self._signal(Signal("skip"))

    def stop(self, reason: str = "stopped by the user") -> None:
        """End the session; the device is made safe. Safe to call twice.

        Raises:
            ControlError: the session has already finished.
        """
        if self._state.finished:
            raise ControlError(f"cannot stop: the session has already {self._state.value}")
        if self._stop_reason is None:
            self._stop_reason = reason
        self._signal(Signal("stop", reason))

    def confirm(self) -> None:
        """Tell the session the person is ready (head fitted, in position).

        Raises:
            ControlError: the session is not waiting for the person.
        """
        self._require({SessionState.WAITING_FOR_CONFIRM}, "confirm")
        self._signal(Signal("confirm"))

    def extend(self, seconds: float = 30.0) -> None:
        """Give the current step more time.

        Raises:
            ControlError: no step is timing, or ``seconds`` is not positive.
        """
        self._require({SessionState.RUNNING, SessionState.PAUSED}, "extend")
        if not seconds > 0:
            raise ControlError("extend needs a positive number of seconds")
        self._signal(Signal("extend", float(seconds)))

    def nudge(self, delta: int) -> int:
        """Raise or lower the intensity by ``delta`` levels, within the user's cap.

        The offset stays for the rest of the session (a step that plans its
        motor off stays off).

        Returns:
            The new target level.

        Raises:
            ControlError: the motor is off in this step, or the level is already at its limit.
        """
        current = self._require_motor_step("change the intensity")
        return self.set_intensity(current + delta)

    def set_intensity(self, level: int) -> int:
        """Set the current step's intensity to ``level`` (1 … the user's cap), from now on.

        Returns:
            The new target level.

        Raises:
            ControlError: the motor is off in this step, or ``level`` is outside 1 … cap.
        """
        current = self._require_motor_step("change the intensity")
        top = self.plan.max_level
        if level > top:
            raise ControlError(
                f"level {level} is above your cap (level {top} of {self.plan.profile.intensity.max_level})"
            )
        if level < 1:
            raise ControlError("the lowest level is 1; pause or stop to turn the motor off")
        if level == current:
            raise ControlError(f"the intensity is already level {level}")
        self._signal(Signal("intensity", level))
        return level

    def heat_off(self) -> None:
        """Turn the heat off now and keep it off for the rest of the session, whatever the steps plan.

        Taken in every state until the session ends (a paused or waiting session holds heat off already).

        Raises:
            ControlError: the session has already finished.
        """
        if self._state.finished:
            raise ControlError(f"cannot turn the heat off: the session has already {self._state.value}")
        self._heat_declined = True
        self._signal_heat()

    def heat_on(self) -> None:
        """Let the routine's planned heat back on after :meth:`heat_off`, within the heat budget.

        Heat comes on only where a step plans it; this never adds heat the routine does not plan.

        Raises:
            ControlError: no step is under way, the routine plans no heat, or its heat budget is spent.
        """
        self._require(
            {SessionState.RUNNING, SessionState.PAUSED, SessionState.WAITING_FOR_CONFIRM}, "turn the heat on"
        )
        budget = self.plan.heat_budget_s
        if budget <= 0:
            raise ControlError("cannot turn the heat on: this routine plans no heat")
        now = self._now()
        if self._heat.left(now) <= EPS:
            used = self._heat.used(now)
            raise ControlError(
                f"cannot turn the heat on: it would break the heat budget ({used / 60:.1f} of "
                f"{budget / 60:.1f} min used, at most {self._heat.contiguous_s / 60:g} min without a break)"
            )
        if self._heat_blocked:
            raise ControlError(
                "cannot turn the heat on: it was cut at its limit in this step; it comes back at the next "
                "heated step, within the budget"
            )
        self._heat_declined = False
        self._signal_heat()

    def _signal_heat(self) -> None:
        # The step loop reads _heat_declined when it takes the signal: one queued is enough.
        if not any(s.kind == "heat" for s in self._signals):
            self._signal(Signal("heat"))

    def _require(self, states: set[SessionState], action: str) -> None:
        if self._state not in states:
            raise ControlError(f"cannot {action}: the session is {self._state.value.replace('_', ' ')}")

    def _require_motor_step(self, action: str) -> int:
        self._require({SessionState.RUNNING, SessionState.PAUSED}, action)
        target = self._target_level(self._step) if self._step else None
        if not target:
            raise ControlError(f"cannot {action}: the motor is off in this step")
        return target

    def _signal(self, signal: Signal) -> None:
        if signal.kind in _CONTROLS and len(self._signals) >= MAX_SIGNALS:
            raise ControlError(f"cannot {signal.kind}: too many controls are waiting to be handled")
        self._signals.append(signal)
        self._wake.set()

    # ------------------------------------------------------------------ clock

    def _now(self) -> float:
        assert self._loop is not None
        return (self._loop.time() - self._loop_t0) * self.speed

    def _loop_at(self, t: float) -> float:
        return self._loop_t0 + t / self.speed

    async def _wait(self, until: float | None) -> Signal | None:
        """The next signal, or ``None`` once the session clock reaches ``until``."""
        while not self._signals:
            self._wake.clear()
            if until is None:
                await self._wake.wait()
                continue
            try:
                async with asyncio.timeout_at(self._loop_at(until)):
                    await self._wake.wait()
            except TimeoutError:
                return None
        signal = self._signals.popleft()
        if signal.kind == "failed":
            raise HelperFailed(signal.value)
        return signal

    def _set_state(self, state: SessionState) -> None:
        if self._loop is not None:
            now = self._now()
            if state in _HELD and self._held_since is None:
                self._held_since = now
            elif state not in _HELD and self._held_since is not None:
                self._held_s += now - self._held_since
                self._held_since = None
        self._state = state
        if self._loop is not None and self._step is not None:
            self._emit_progress()

    def _active_s(self) -> float:
        now = self._now()
        held = self._held_s + (now - self._held_since if self._held_since is not None else 0.0)
        return max(0.0, now - held)

    def _step_elapsed(self) -> float:
        if self._step is None or self._loop is None:
            return 0.0
        if self._state is SessionState.RUNNING:
            return max(0.0, self._step_duration - (self._deadline - self._now()))
        if self._state in (SessionState.PAUSED, SessionState.SUSPENDED) and self._remaining:
            return max(0.0, self._step_duration - self._remaining)
        return 0.0

    def _session_duration(self) -> float:
        return self.plan.duration_s + self._extended_s

    # ------------------------------------------------------------------ events

    def _emit(self, cls: type[BaseEvent], **fields: Any) -> None:
        t = round(self._now(), 6) if self._loop is not None else 0.0
        self.bus.publish(cls(session_id=self.id, session_t=t, **fields))

    def _emit_progress(self) -> None:
        step = self._step
        elapsed = self._step_elapsed()
        self._emit(
            Progress,
            state=self._state.value,
            index=step.index if step else 0,
            steps=len(self.plan.steps),
            step_elapsed_s=round(elapsed, 3),
            step_duration_s=round(self._step_duration, 3),
            session_elapsed_s=round(self._done_s + elapsed, 3),
            session_duration_s=round(self._session_duration(), 3),
        )

    def _emit_device(self, state: DeviceState) -> None:
        self._emit(
            DeviceStateEvent,
            connected=state.connected,
            motor=state.motor,
            head=state.head,
            intensity=state.intensity,
            heat=self.plan.heat_name(state.heat),
            battery=state.battery,
            temperature_c=state.temperature_c,
            flags=list(state.flags),
            stale=state.stale,
        )

    # ------------------------------------------------------------------ run

    async def run(self) -> SessionResult:
        """Run the routine to its end, a stop, an abort or a failure; the device ends safe.

        Returns:
            How the session ended.

        Raises:
            asyncio.CancelledError: the task was cancelled (after the device was made safe).
            RuntimeError: the session was already run.
        """
        if self._loop is not None:
            raise RuntimeError("a session runs once")
        self._loop = asyncio.get_running_loop()
        self._loop_t0 = self._loop.time()
        status: SessionStatus = "failed"
        reason = "internal error"
        try:
            self._set_state(SessionState.PREPARING)
            await self._prepare()
            for step in self.plan.steps:
                await self._run_step(step)
            status, reason = "completed", "the routine ran to its end"
        except asyncio.CancelledError as e:
            status, reason = "stopped", (str(e.args[0]) if e.args and e.args[0] else "cancelled")
            raise
        except StopSession as e:
            status, reason = "stopped", e.reason
        except AbortSession as e:
            status, reason = "aborted", e.reason
        except HelperFailed as e:
            status, reason = "failed", str(e)
        except LinkDown as e:
            status, reason = "aborted", f"link lost while preparing: {e}"
        except MassagerError as e:
            status, reason = "failed", str(e)
        except Exception as e:
            status, reason = "failed", f"unexpected error: {e!r}"
            raise
        finally:
            _, cancelled = await shielded(self._finish(status, reason))
            if cancelled:
                raise asyncio.CancelledError()  # a cancel that came during cleanup
        assert self._result is not None
        return self._result

    async def _prepare(self) -> None:
        driver = await self._connect_unless_stopped()
        self._install(driver)
        if driver.profile.id != self.plan.profile.id:
            raise MassagerError(
                f"the device is a {driver.profile.id}, but the routine was planned for {self.plan.profile.id}"
            )
        # Start from a known state: whatever the device was doing before is not part of this session.
        if await drive_safe(driver) is None:
            raise MassagerError("the device did not confirm motor and heat off before the session")
        self._level, self._heat_level = 0, 0
        self._loop_t0 = self._loop.time() if self._loop else 0.0
        self._emit(
            SessionStarted,
            routine_id=self.plan.routine.id,
            routine_title=self.plan.routine.title,
            device=self.device_url,
            model=self.plan.profile.id,
            steps=len(self.plan.steps),
            planned_duration_s=self.plan.duration_s,
        )
        self._emit_device(driver.state)
        self._ticker = self._spawn(self._tick_progress(), "progress")
        if any(s.kind == "stop" for s in self._signals):
            raise StopSession(next(s.value for s in self._signals if s.kind == "stop"))

    def _install(self, driver: Driver) -> None:
        self._driver = driver
        self._generation += 1
        driver.keepalive = False  # fed from when a step's settings are applied: only a healthy session
        self._watcher = self._spawn(self._watch(driver, self._generation), "device")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=f"session-{self.id}-{name}")
        task.add_done_callback(self._helper_done)
        return task

    def _helper_done(self, task: asyncio.Task[None]) -> None:
        # A helper that dies of a bug must end the session (device made safe), not vanish.
        if task.cancelled() or task.exception() is None or self._finishing:
            return
        error = task.exception()
        log.error("session %s: task %s failed", self.id, task.get_name(), exc_info=error)
        self._signal(Signal("failed", f"internal error in {task.get_name()}: {error!r}"))

    async def _tick_progress(self) -> None:
        every = self._progress_every_s / self.speed
        while True:
            await asyncio.sleep(every)
            if self._step is not None:
                self._emit_progress()

    async def _watch(self, driver: Driver, generation: int) -> None:
        reason = "the device's status stream ended"
        tripped = driver.state.watchdog_tripped
        try:
            async for state in driver.states():
                self._emit_device(state)
                if not state.connected:
                    reason = "the device disconnected"
                    break
                if state.watchdog_tripped and not tripped and self._state is SessionState.RUNNING:
                    self._signal(Signal("reapply", generation))
                tripped = state.watchdog_tripped
                if (
                    self._waiting is not None
                    and self._waiting[1] is not None
                    and state.head == self._waiting[1]
                ):
                    self._signal(Signal("head_seen"))
        except MassagerError as e:
            reason = f"the link failed: {e}"
        except Exception as e:  # a bug reading the device's state: treat the link as lost, keep the cause
            log.exception("session %s: watching the device failed", self.id)
            reason = f"watching the device failed: {e!r}"
        if not self._finishing and generation == self._generation:
            self._signal(Signal("link_lost", (generation, reason)))

    # ------------------------------------------------------------------ steps

    def _current_head(self) -> str | None:
        """The fitted head: as the device detects it, else as the person last confirmed it."""
        reported = self._driver.state.head if self._driver is not None else None
        if self.plan.profile.head_detection and reported is not None:
            return reported
        return self._fitted or reported

    async def _run_step(self, step: ResolvedStep) -> None:
        self._step = step
        self._step_duration = step.duration_s
        self._remaining = 0.0
        self._heat_blocked = False
        head = step.head.id if step.head else None
        self._emit(
            StepStarted,
            index=step.index,
            title=step.title,
            planned_start_s=step.planned_start_s,
            duration_s=step.duration_s,
            head=head,
            intensity=self._target_level(step),
            heat=self.plan.heat_name(step.heat),
            prompt=step.prompt,
            tool=step.tool,
            area=step.area,
            side=step.side,
        )
        try:
            outcome: Literal["completed", "skipped"] = "skipped"
            if await self._wait_for_person(step):
                outcome = await self._timed(step)
        except BaseException:  # stopped, cancelled or failed: the step ends here either way
            self._finish_step(step, "stopped")
            raise
        self._finish_step(step, outcome)

    def _finish_step(self, step: ResolvedStep, outcome: Literal["completed", "skipped", "stopped"]) -> None:
        self._done_s += self._step_duration
        self._emit(StepFinished, index=step.index, title=step.title, outcome=outcome)

    async def _wait_for_person(self, step: ResolvedStep) -> bool:
        """Hold the motor and wait for a confirm when the step needs one; False when skipped."""
        head_change = (
            step.head is not None and step.head.change == "manual" and self._current_head() != step.head.id
        )
        if not (head_change or step.confirm):
            return True
        reason: Literal["confirm", "head_change"] = "head_change" if head_change else "confirm"
        fit = step.head.id if head_change and step.head else None
        text = step.prompt or ""
        if head_change and step.head is not None:
            fit_text = (
                f"Fit the {step.head.name} head ({step.head.use})"
                if step.head.use
                else f"Fit the {step.head.name} head"
            )
            text = f"{fit_text}, then confirm." + (f" Next: {step.prompt}" if step.prompt else "")
        self._waiting = (reason, fit)
        self._set_state(SessionState.WAITING_FOR_CONFIRM)
        self._emit(WaitingForConfirm, index=step.index, reason=reason, head=fit, prompt=text or step.title)
        held = False
        by: Literal["user", "auto", "device"] | None = "auto" if self.auto_confirm else None
        try:
            while True:
                try:
                    if not held:
                        # Motor and heat off while the person gets ready: an endless wait must not
                        # keep heat on (the step's heat comes back when its time starts).
                        await self._hold()
                        held = True
                    if by is not None:
                        break
                    # Checked on every pass, not only on a "head_seen" signal: any signal (or a reconnect)
                    # brings us back here, and the head may have been fitted meanwhile.
                    if fit is not None and self._driver is not None and self._driver.state.head == fit:
                        by = "device"
                        break
                    signal = await self._wait(None)
                    if signal is None:
                        continue
                    if signal.kind == "confirm":
                        by = "user"
                    elif signal.kind == "skip":
                        self._next_start = self._now()
                        return False
                    elif signal.kind == "stop":
                        raise StopSession(signal.value)
                    elif signal.kind == "link_lost" and signal.value[0] == self._generation:
                        raise LinkDown(signal.value[1])
                except LinkDown as e:
                    await self._recover(str(e))
                    held = False
        finally:
            self._waiting = None
        if fit is not None:
            self._fitted = fit
            if by == "auto" and self._fit_head is not None:
                self._fit_head(fit)
        self._emit(Confirmed, index=step.index, by=by)
        self._next_start = self._now()
        return True

    async def _timed(self, step: ResolvedStep) -> Literal["completed", "skipped"]:
        self._deadline = self._next_start + step.duration_s
        self._set_state(SessionState.RUNNING)
        apply = True
        cap_s = self.plan.caps.max_session_minutes * 60
        while True:
            try:
                now = self._now()
                if apply:
                    apply = False
                    if self._state is SessionState.PAUSED:
                        await self._hold()
                    else:
                        await self._apply(step)
                    continue
                if self._state is SessionState.PAUSED:
                    signal = await self._wait(None)
                else:
                    if self._active_s() >= cap_s - EPS:
                        raise StopSession(
                            f"reached your session cap of {self.plan.caps.max_session_minutes:g} min"
                        )
                    if self._ramp_target is not None and now >= self._ramp_next - EPS:
                        await self._ramp_tick()
                        continue
                    cutoff = self._heat.cutoff_at(now)
                    if cutoff is not None and now >= cutoff - EPS:
                        await self._heat_cut()
                        continue
                    if now >= self._deadline - EPS:
                        self._next_start = self._deadline
                        return "completed"
                    wake = [self._deadline, now + cap_s - self._active_s()]
                    if self._ramp_target is not None:
                        wake.append(self._ramp_next)
                    if cutoff is not None:
                        wake.append(cutoff)
                    signal = await self._wait(min(wake))
                if signal is None:
                    continue
                outcome = await self._handle(signal)
                if outcome == "skipped":
                    self._next_start = self._now()
                    return "skipped"
                if outcome == "apply":
                    apply = True
            except LinkDown as e:
                await self._recover(str(e))
                apply = True

    async def _handle(self, signal: Signal) -> Literal["skipped", "apply"] | None:
        now = self._now()
        paused = self._state is SessionState.PAUSED
        match signal.kind:
            case "stop":
                raise StopSession(signal.value)
            case "skip":
                return "skipped"
            case "pause" if not paused:
                self._remaining = max(0.0, self._deadline - now)
                self._set_state(SessionState.PAUSED)
                self._emit(Paused, index=self._index(), remaining_s=round(self._remaining, 6))
                return "apply"
            case "resume" if paused:
                self._deadline = now + self._remaining
                self._set_state(SessionState.RUNNING)
                self._emit(Resumed, index=self._index(), remaining_s=round(self._remaining, 6))
                return "apply"
            case "extend":
                seconds = float(signal.value)
                self._extended_s += seconds
                self._step_duration += seconds
                if paused:
                    self._remaining += seconds
                else:
                    self._deadline += seconds
                remaining = self._remaining if paused else self._deadline - now
                self._emit(StepExtended, index=self._index(), by_s=seconds, remaining_s=round(remaining, 6))
            case "intensity" if self._step is not None and self._step.level:
                self._offset = int(signal.value) - self._step.level
                level = self._target_level(self._step) or 0
                self._emit(IntensityNudged, index=self._index(), offset=self._offset, level=level)
                if not paused:
                    self._start_ramp(level, None)
            case "heat" if not paused and self._step is not None:
                await self._apply_heat(self._step.heat)
            case "link_lost" if signal.value[0] == self._generation:
                raise LinkDown(signal.value[1])
            case "reapply" if signal.value == self._generation and not paused:
                self._emit(
                    Notice, level="warning", message="the device's watchdog stopped it; setting it again"
                )
                self._level = None
                return "apply"
        return None

    def _index(self) -> int:
        return self._step.index if self._step else 0

    # ------------------------------------------------------------------ finish

    async def _finish(self, status: SessionStatus, reason: str) -> None:
        self._finishing = True
        # Safety first: nothing a helper task did (or failed to do) may stand between here and the stop.
        safe = await self._make_safe()
        await self._collect_helpers()
        if not safe:
            timeout = self.plan.profile.watchdog.timeout_s
            reason += (
                f"; the device did not confirm motor and heat off (its watchdog stops it in {timeout:g} s)"
            )
            if status == "completed":
                status = "failed"
        self._heat.switched_off(self._now())
        active = round(self._active_s(), 3)
        self._result = SessionResult(
            session_id=self.id, status=status, reason=reason, active_s=active, device_safe=safe
        )
        self._set_state(SessionState(status))
        self._emit(SessionFinished, status=status, reason=reason, active_s=active)
        if self._close_device and self._driver is not None:
            with contextlib.suppress(MassagerError, TimeoutError):
                async with asyncio.timeout(3.0):
                    await self._driver.close()
