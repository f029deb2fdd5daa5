"""The session: one routine on one device, run by a thin loop over collaborating parts.

* :class:`~.timeline.Timeline` — pure: plan position, deadlines, shifts, and the state, changed only
  as its declared transition table allows;
* :class:`~.actuator.Actuator` — device settings, ramps, the user's caps and the heat budget;
* :class:`~.link.LinkSupervisor` — the link: reconnects, and the one final safe stop;
* :class:`~.steps.StepRunner` — one step at a time, with the controls and the person;
* a :class:`~.person.Person` passed in — who confirms and fits heads.

:meth:`Session.run` runs the steps while its helpers (the device watcher, the
progress ticker) live in one :class:`asyncio.TaskGroup`; every path out of it
drives the device to motor off and heat off, confirmed.

Controls (:meth:`Session.pause`, ``resume``, ``skip``, ``stop``, ``extend``,
``nudge``, ``set_intensity``, ``confirm``, ``heat_off``, ``heat_on``) may be
called from any task on the loop; they check the current state, raise
:class:`ControlError` when they do not apply, and otherwise queue a signal.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from massager_ctl.drivers.base import STOP_SENT_UNCONFIRMED, Driver
from massager_ctl.errors import MassagerError
from massager_ctl.events import EventBus, SessionFinished, SessionStarted, SessionStatus
from massager_ctl.orchestrator.actuator import Actuator
from massager_ctl.orchestrator.clock import SessionClock
from massager_ctl.orchestrator.controls import RECONNECT, SessionResult, SessionState, stop_check
from massager_ctl.orchestrator.link import Connector, LinkSupervisor
from massager_ctl.orchestrator.panel import ControlPanel
from massager_ctl.orchestrator.person import AttendingPerson, Person
from massager_ctl.orchestrator.plan import Plan
from massager_ctl.orchestrator.reporter import ProgressTicker, Reporter, tick_progress
from massager_ctl.orchestrator.safety import shielded
from massager_ctl.orchestrator.signals import AbortSession, HelperFailed, Inbox, LinkDown, Signal, StopSession
from massager_ctl.orchestrator.snapshot import SessionSnapshot, take_snapshot
from massager_ctl.orchestrator.steps import DeviceWatch, StepRunner
from massager_ctl.orchestrator.timeline import Timeline
from massager_ctl.retry import Backoff

__all__ = ["Connector", "Session"]

log = logging.getLogger(__name__)

_S = SessionState


class Session:
    """Runs one resolved :class:`Plan` on one device.

    Args:
        plan: the routine resolved for the device's model (see :func:`preflight`).
        connect: opens a link to the device; called again to reconnect after a drop.
        device_url: shown in events and the journal.
        bus: where events go; the session never closes it.
        person: who confirms steps and fits heads (default: someone at the controls, who confirms
            with :meth:`confirm`).
        speed: the session clock runs this many times faster than the loop clock
            (for a simulator whose firmware clocks run at the same speed).
        reconnect: how often and how patiently to reconnect after a drop.
        progress_every_s: session seconds between ``progress`` events.
        progress: the progress ticker (a test may pass its own).
        close_device: close the driver when the session ends.

    Raises:
        ValueError: ``speed`` is not positive.
    """

    def __init__(
        self,
        plan: Plan,
        *,
        connect: Connector,
        device_url: str,
        bus: EventBus | None = None,
        person: Person | None = None,
        speed: float = 1.0,
        reconnect: Backoff | None = None,
        progress_every_s: float = 1.0,
        progress: ProgressTicker = tick_progress,
        close_device: bool = True,
        session_id: str | None = None,
    ) -> None:
        self.clock = SessionClock(speed)
        self.id = session_id or uuid.uuid4().hex[:12]
        self.plan = plan
        self.bus = bus if bus is not None else EventBus()
        self.device_url = device_url
        self.speed = speed
        self._progress = progress
        self._progress_every_s = progress_every_s
        self._close_device = close_device
        self._helpers: asyncio.TaskGroup | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._result: SessionResult | None = None

        self.timeline = Timeline(plan.duration_s, on_change=self._state_changed)
        self.inbox = Inbox(self.clock)
        self.events = Reporter(self.id, self.bus, clock=self.clock, plan=plan, timeline=self.timeline)
        self.link = LinkSupervisor(
            connect,
            policy=reconnect or RECONNECT,
            clock=self.clock,
            inbox=self.inbox,
            events=self.events,
            spawn=self._spawn,
            observer=DeviceWatch(self.timeline, self.inbox, self.events),
        )
        self.actuator = Actuator(plan, clock=self.clock, events=self.events, driver=lambda: self.link.driver)
        if person is None:
            person = AttendingPerson()
        self.panel = ControlPanel(self.plan, timeline=self.timeline, inbox=self.inbox, actuator=self.actuator)
        self.steps = StepRunner(
            plan,
            timeline=self.timeline,
            actuator=self.actuator,
            link=self.link,
            inbox=self.inbox,
            events=self.events,
            clock=self.clock,
            person=person,
        )

    # ------------------------------------------------------------------ public view

    @property
    def state(self) -> SessionState:
        return self.timeline.state

    @property
    def result(self) -> SessionResult | None:
        """How the session ended, once it has."""
        return self._result

    @property
    def t0(self) -> float:
        """The loop time at which the session clock reads 0."""
        return self.clock.t0

    @property
    def driver(self) -> Driver | None:
        """The driver of the current link (``None`` while disconnected)."""
        return self.link.driver

    def snapshot(self) -> SessionSnapshot:
        """Where the session stands now."""
        return take_snapshot(
            session_id=self.id,
            device_url=self.device_url,
            plan=self.plan,
            timeline=self.timeline,
            now=self.clock.now(),
            offset=self.actuator.offset,
            result=self._result,
        )

    # ------------------------------------------------------------------ controls (see ControlPanel)

    def pause(self) -> None:
        """Hold the motor and heat and keep the step's remaining time (:meth:`ControlPanel.pause`)."""
        self.panel.pause()

    def resume(self) -> None:
        """Continue a paused step with the time it had left (:meth:`ControlPanel.resume`)."""
        self.panel.resume()

    def skip(self) -> None:
        """End the current step now and start the next one (:meth:`ControlPanel.skip`)."""
        self.panel.skip()

    def stop(self, reason: str = "stopped by the user") -> None:
        """End the session; the device is made safe. Safe to call twice (:meth:`ControlPanel.stop`)."""
        self.panel.stop(reason)

    def confirm(self) -> None:
        """Tell the session the person is ready (:meth:`ControlPanel.confirm`)."""
        self.panel.confirm()

    def extend(self, seconds: float = 30.0) -> None:
        """Give the current step more time (:meth:`ControlPanel.extend`)."""
        self.panel.extend(seconds)

    def nudge(self, delta: int) -> int:
        """Raise or lower the intensity by ``delta`` levels; the new level (:meth:`ControlPanel.nudge`)."""
        return self.panel.nudge(delta)

    def set_intensity(self, level: int) -> int:
        """Set the step's intensity to ``level`` from now on (:meth:`ControlPanel.set_intensity`)."""
        return self.panel.set_intensity(level)

    def heat_off(self) -> None:
        """Heat off now and for the rest of the session (:meth:`ControlPanel.heat_off`)."""
        self.panel.heat_off()

    def heat_on(self) -> None:
        """Let the planned heat back on, within the budget (:meth:`ControlPanel.heat_on`)."""
        self.panel.heat_on()

    # ------------------------------------------------------------------ run

    async def run(self) -> SessionResult:
        """Run the routine to its end, a stop, an abort or a failure; the device ends safe.

        Returns:
            How the session ended.

        Raises:
            asyncio.CancelledError: the task was cancelled (after the device was made safe).
            RuntimeError: the session was already run.
        """
        if self.clock.started:
            raise RuntimeError("a session runs once")
        self.clock.start()
        async with asyncio.TaskGroup() as helpers:
            self._helpers = helpers
            escaped = await self._lifetime()
        if escaped is not None:
            raise escaped  # outside the task group: callers see the error itself, not a group of one
        assert self._result is not None
        return self._result

    async def _lifetime(self) -> BaseException | None:
        """Prepare, run every step and finish; what must propagate from :meth:`run` is returned."""
        status: SessionStatus = "failed"
        reason = "internal error"
        escaped: BaseException | None = None
        try:
            self.timeline.enter(_S.PREPARING, self.clock.now())
            await self._prepare()
            for step in self.plan.steps:
                await self.steps.run(step)
            status, reason = "completed", "the routine ran to its end"
        except asyncio.CancelledError as e:
            status, reason = "stopped", (str(e.args[0]) if e.args and e.args[0] else "cancelled")
            escaped = e
        except (StopSession, AbortSession) as e:
            status, reason = ("stopped" if isinstance(e, StopSession) else "aborted"), e.reason
        except HelperFailed as e:
            status, reason = "failed", str(e)
        except LinkDown as e:
            status, reason = "aborted", f"link lost while preparing: {e}"
        except MassagerError as e:
            status, reason = "failed", str(e)
        except Exception as e:
            status, reason = "failed", f"unexpected error: {e!r}"
            escaped = e
        except BaseException as e:
            escaped = e
        _, cancelled = await shielded(self._finish(status, reason))
        return asyncio.CancelledError() if cancelled else escaped  # a cancel that came during cleanup

    async def _prepare(self) -> None:
        driver = await self.link.open()
        if driver.profile.id != self.plan.profile.id:
            raise MassagerError(
                f"the device is a {driver.profile.id}, but the routine was planned for {self.plan.profile.id}"
            )
        # Start from a known state: whatever the device was doing before is not part of this session.
        if not await self.link.start_safe(driver):
            raise MassagerError("the device did not confirm motor and heat off before the session")
        self.actuator.start_from_off()
        self.clock.restart()
        self.events.emit(
            SessionStarted,
            routine_id=self.plan.routine.id,
            routine_title=self.plan.routine.title,
            device=self.device_url,
            model=self.plan.profile.id,
            steps=len(self.plan.steps),
            planned_duration_s=self.plan.duration_s,
        )
        self.events.device(driver.state)
        every = self._progress_every_s / self.speed
        self._ticker = self._spawn(lambda: self._progress(self._tick, every), "progress")
        stop = self.inbox.pending_stop()
        if stop is not None:
            raise StopSession(stop)

    def _tick(self) -> None:
        if self.timeline.step is not None:
            self.events.progress()

    def _state_changed(self, state: SessionState) -> None:
        if self.clock.started and self.timeline.step is not None:
            self.events.progress()

    def _spawn(self, work: Callable[[], Coroutine[Any, Any, None]], name: str) -> asyncio.Task[None]:
        assert self._helpers is not None, "helpers run only while the session does"
        full = f"session-{self.id}-{name}"
        return self._helpers.create_task(self._guarded(work, full), name=full)

    async def _guarded(self, work: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        try:
            await work()
        except Exception as error:
            # A helper that dies of a bug must end the session (device made safe), not vanish.
            log.error("session %s: task %s failed", self.id, name, exc_info=error)
            if not self.link.closing:
                self.inbox.put(Signal("failed", f"internal error in {name}: {error!r}"))

    async def _finish(self, status: SessionStatus, reason: str) -> None:
        self.link.closing = True
        # Safety first: nothing a helper task did (or failed to do) may stand between here and the stop.
        safe = await self.link.make_safe(preparing=self.state is _S.PREPARING)
        await self._collect_helpers()
        if not safe and self.link.stop_unconfirmed:
            reason += f"; {STOP_SENT_UNCONFIRMED}"
        elif not safe:
            timeout = self.plan.profile.silence_stop_s
            backstop = f"its watchdog stops it in {timeout:g} s" if timeout is not None else "switch it off"
            reason += f"; the device did not confirm motor and heat off ({backstop})"
            if status == "completed":
                status = "failed"
        self.actuator.device_off()
        now = self.clock.now()
        active = round(self.timeline.active_s(now), 3)
        stop = stop_check(self.plan.profile, safe=safe, sent_unconfirmed=self.link.stop_unconfirmed)
        self._result = SessionResult(
            session_id=self.id, status=status, reason=reason, active_s=active,
            device_safe=safe and stop != "asked_of_person", stop=stop,
        )  # fmt: skip
        self.timeline.enter(SessionState(status), now)
        self.events.emit(SessionFinished, status=status, reason=reason, active_s=active, stop=stop)
        if self._close_device:
            await self.link.close()

    async def _collect_helpers(self) -> None:
        tasks = {t for t in (self._ticker, self.link.watcher) if t is not None}
        self._ticker = self.link.watcher = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)  # unlike awaiting them, lets a cancel of this task through
