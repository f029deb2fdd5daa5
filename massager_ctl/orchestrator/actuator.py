"""The actuator: a session's device settings, intensity ramps, caps and heat budget.

It brings the device to a step's settings (intensity ramping one level at a
time, never above the user's cap), holds motor and heat off while the session
waits, and keeps heat within its :class:`HeatBudget` whatever the firmware
would allow. A link failure under a command surfaces as :class:`LinkDown`,
which the step loop answers by reconnecting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from massager_ctl.drivers.base import DeviceState, Driver
from massager_ctl.errors import CommandTimeoutError, LinkLostError
from massager_ctl.events import Notice
from massager_ctl.orchestrator.clock import SessionClock
from massager_ctl.orchestrator.heat import HeatBudget
from massager_ctl.orchestrator.plan import DEFAULT_RAMP_S_PER_LEVEL, Plan, ResolvedStep
from massager_ctl.orchestrator.reporter import Reporter
from massager_ctl.orchestrator.signals import LinkDown
from massager_ctl.orchestrator.timeline import EPS

#: Heat seconds kept in reserve at least: heat counts until the off command is confirmed, which takes a
#: moment, so the engine cuts heat this much before a limit and never exceeds it. The reserve is the
#: model's watchdog timeout when that is longer: if the link fails as heat should go off, the device's
#: watchdog is what turns it off, up to that long after the last frame it heard (the cut-off at the latest).
HEAT_SLACK_S = 2.0
_LINK_ERRORS = (LinkLostError, CommandTimeoutError)


class Actuator:
    """Device settings for one session: what is set, what ramps, how much heat is left.

    Args:
        plan: the resolved plan (the model, the caps, the routine's heat).
        clock: the session clock.
        events: where notices go.
        driver: the driver of the current link (``None`` while there is none).
    """

    def __init__(
        self, plan: Plan, *, clock: SessionClock, events: Reporter, driver: Callable[[], Driver | None]
    ) -> None:
        self._plan = plan
        self._clock = clock
        self._events = events
        self._driver = driver
        #: levels the person nudged the plan by; stays for the rest of the session
        self.offset = 0
        self._level: int | None = None
        self._heat_level = 0
        self._heat_blocked = False
        #: the person turned the heat off: it stays off, whatever the steps plan, until they allow it again
        self.heat_declined = False
        self._ramp_target: int | None = None
        self._ramp_every = DEFAULT_RAMP_S_PER_LEVEL
        self._ramp_next = 0.0
        #: what is left of the plan when the current step was applied, and when that was
        self._left_s = plan.duration_s
        self._left_at = 0.0
        #: the device timer's bound last set (seconds), so a change is told once
        self._timer_s: int | None = None
        heat = plan.profile.heat
        self._heat = HeatBudget(
            contiguous_s=float(heat.max_on_s) if heat else 0.0,
            total_s=plan.heat_budget_s,
            slack_s=max(HEAT_SLACK_S, plan.profile.silence_stop_s or 0.0),
        )

    def target_level(self, step: ResolvedStep) -> int | None:
        """The level ``step`` runs at: its own, nudged by the person, within 1 … the cap."""
        if step.level is None or step.level == 0:
            return step.level
        return max(1, min(self._plan.max_level, step.level + self.offset))

    def nudge_to(self, step: ResolvedStep, level: int) -> int:
        """Run ``step`` (and the steps after it, relatively) at ``level``; returns the capped target."""
        assert step.level
        self.offset = level - step.level
        return self.target_level(step) or 0

    # ------------------------------------------------------------------ lifecycle

    def start_from_off(self) -> None:
        """The device was confirmed off before the session."""
        self._level, self._heat_level = 0, 0

    def begin_step(self) -> None:
        self._heat_blocked = False

    def forget_level(self) -> None:
        """The device's watchdog stopped it: ramp on from what it reports, not from what was set."""
        self._level = None

    def restart_from_off(self, *, heat_off_by: float) -> None:
        """A new link found the device off (confirmed): every setting starts again from off.

        Args:
            heat_off_by: when heat went off at the latest (the device's watchdog after the link was
                lost); the heat budget counts the outage up to then.
        """
        self._level = 0
        self._heat_level = 0
        self._ramp_target = None
        self._heat.switched_off(min(self._clock.now(), heat_off_by))

    def device_off(self) -> None:
        """The device is confirmed off (or beyond reach): heat stops counting."""
        self._heat.switched_off(self._clock.now())

    # ------------------------------------------------------------------ commands

    async def _command(self, call: Callable[[Driver], Awaitable[DeviceState]]) -> DeviceState:
        driver = self._driver()
        if driver is None:
            raise LinkDown("no link")
        try:
            return await call(driver)
        except _LINK_ERRORS as e:
            raise LinkDown(str(e)) from e

    async def _set_level(self, level: int) -> None:
        await self._command(lambda d: d.set_intensity(level))
        self._level = level
        if level > 0:
            await self._arm_timer()

    async def _arm_timer(self) -> None:
        """Keep the device's own timer (its fail-safe, where it has one) covering what is left of the plan.

        Raises:
            LinkDown: the link failed under a command.
        """
        driver = self._driver()
        if driver is None:
            return
        left = max(0.0, self._left_s - (self._clock.now() - self._left_at))
        try:
            bound = await driver.arm_timer(left)
        except LinkLostError as e:
            raise LinkDown(str(e)) from e
        except CommandTimeoutError as e:
            self._events.emit(
                Notice, level="warning", message=f"the device's own timer was not confirmed: {e}"
            )
            return
        if bound is not None and bound != self._timer_s:
            self._timer_s = bound
            self._events.emit(
                Notice,
                level="info",
                message=f"device timer set to {bound // 60} min: the device stops by itself by then if this"
                " controller goes silent",
            )

    async def _set_heat(self, level: int) -> None:
        if level:
            self._heat.switched_on(self._clock.now())  # counts from the moment heat is asked for
        await self._command(lambda d: d.set_heat(level))
        self._heat_level = level
        if not level:
            self._heat.switched_off(self._clock.now())

    async def apply(self, step: ResolvedStep) -> None:
        """Bring the device to the step's settings; intensity ramps there.

        Raises:
            LinkDown: the link failed under a command.
        """
        driver = self._driver()
        assert driver is not None
        driver.keepalive = True
        self._left_s, self._left_at = self._plan.duration_s - step.planned_start_s, self._clock.now()
        state = driver.state
        if step.head is not None and step.head.change == "motorized" and state.head != step.head.id:
            head_id = step.head.id
            await self._command(lambda d: d.set_head(head_id))
        if step.mode is not None and state.mode != step.mode:
            mode = step.mode
            await self._command(lambda d: d.set_mode(mode))
        if step.direction is not None and state.direction != step.direction:
            direction = step.direction
            await self._command(lambda d: d.set_direction(direction))
        await self.apply_heat(step.heat)
        target = self.target_level(step)
        if target is not None:
            self.start_ramp(target, step.ramp_s)

    def heat_refusal(self) -> str | None:
        """Why the planned heat may not come back on now, if it may not."""
        budget = self._plan.heat_budget_s
        if budget <= 0:
            return "this routine plans no heat"
        now = self._clock.now()
        if self._heat.left(now) <= EPS:
            used = self._heat.used(now)
            return (
                f"it would break the heat budget ({used / 60:.1f} of {budget / 60:.1f} min used, "
                f"at most {self._heat.contiguous_s / 60:g} min without a break)"
            )
        if self._heat_blocked:
            return (
                "it was cut at its limit in this step; "
                "it comes back at the next heated step, within the budget"
            )
        return None

    @property
    def heat_level(self) -> int:
        """The heat level last set (or, on a person-set massager, last asked of the person)."""
        return self._heat_level

    def heat_target(self, wanted: int | None) -> int:
        """The level :meth:`apply_heat` would end at for ``wanted``, from the heat as it is now."""
        if self._plan.profile.heat is None:
            return 0
        if self.heat_declined:
            return 0
        if wanted is None:
            return self._heat_level
        if wanted and (self._heat_blocked or self._heat.left(self._clock.now()) <= EPS):
            return 0
        return wanted

    async def apply_heat(self, wanted: int | None) -> None:
        """Heat to ``wanted`` (``None``: as it is), within the budget, unless the person declined it.

        Raises:
            LinkDown: the link failed under a command.
        """
        if self._plan.profile.heat is None:
            return
        if self.heat_declined:
            wanted = 0
        if wanted is None:
            return
        driver = self._driver()
        if wanted == 0:
            if self._heat_level or self._heat.on or (driver and driver.state.heat):
                await self._set_heat(0)
            return
        if self._heat_blocked or self._heat.left(self._clock.now()) <= EPS:
            if self._heat_level or self._heat.on:
                await self._set_heat(0)
            if not self._heat_blocked:
                self._heat_blocked = True
                self._events.emit(
                    Notice, level="warning", message="heat stays off: this session's heat budget is used up"
                )
            return
        if self._heat_level != wanted or (driver and driver.state.heat != wanted):
            await self._set_heat(wanted)

    async def hold(self) -> None:
        """Motor and heat off while paused or waiting for the person; the watchdog rests once both are.

        Raises:
            LinkDown: the link failed under a command.
        """
        self._ramp_target = None
        driver = self._driver()
        if self._level != 0 or (driver is not None and driver.state.intensity):
            await self._set_level(0)
        if self._heat_level or self._heat.on or (driver is not None and driver.state.heat):
            await self._set_heat(0)
        driver = self._driver()
        if driver is not None and driver.state.safe:
            # Only a running session feeds the watchdog: if this one hangs from here on, the device is off.
            driver.keepalive = False

    # ------------------------------------------------------------------ due work while running

    def start_ramp(self, target: int, ramp_s: float | None) -> None:
        """Move to ``target`` a level at a time (``ramp_s`` for the whole way, else the default pace)."""
        if self._level is None:  # after the watchdog stopped it: ramp on from where the device is, not from 0
            driver = self._driver()
            self._level = driver.state.intensity if driver else 0
        delta = abs(target - self._level)
        if delta == 0:
            self._ramp_target = None
            return
        self._ramp_target = target
        self._ramp_every = ramp_s / delta if ramp_s else DEFAULT_RAMP_S_PER_LEVEL
        self._ramp_next = self._clock.now()

    def wake_times(self, now: float) -> list[float]:
        """When the actuator next has work: the next ramp level, the heat cut-off."""
        times = [self._ramp_next] if self._ramp_target is not None else []
        cutoff = self._heat.cutoff_at(now)
        return times if cutoff is None else [*times, cutoff]

    async def do_due(self, now: float, deadline: float) -> bool:
        """Take the next ramp level or cut heat if either is due at ``now``; whether one was.

        Raises:
            LinkDown: the link failed under a command.
        """
        if self._ramp_target is not None and now >= self._ramp_next - EPS:
            await self._ramp_tick(self._ramp_target)
            return True
        cutoff = self._heat.cutoff_at(now)
        if cutoff is not None and now >= cutoff - EPS:
            await self._heat_cut(deadline)
            return True
        return False

    async def _ramp_tick(self, target: int) -> None:
        current = self._level if self._level is not None else 0
        level = current + (1 if target > current else -1) if current != target else target
        self._ramp_next += self._ramp_every
        await self._set_level(level)
        if level == target:
            self._ramp_target = None

    async def _heat_cut(self, deadline: float) -> None:
        await self._set_heat(0)
        self._heat_blocked = True
        if deadline - self._clock.now() <= self._heat.slack_s + EPS:
            # the step's planned heat ends within the slack anyway: off a moment early, nothing to warn about
            self._events.emit(
                Notice, level="info", message="heat off a moment early to stay within its budget"
            )
        else:
            self._events.emit(
                Notice, level="warning", message="heat off: the heat budget for this stretch is used up"
            )
