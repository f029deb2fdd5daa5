"""Actuation: the session's device settings, intensity ramps and heat budget.

:class:`Actuation` is the part of :class:`~massager_ctl.orchestrator.session.Session`
that talks to the device: it brings the device to a step's settings (intensity
ramping one level at a time), holds motor and heat off while the session waits,
and keeps heat within its :class:`HeatBudget`. A link failure under a command
surfaces as :class:`LinkDown`, which the session answers by reconnecting.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import Any

from massager_ctl.drivers.base import DeviceState, Driver
from massager_ctl.errors import CommandTimeoutError, LinkLostError
from massager_ctl.events import BaseEvent, Notice
from massager_ctl.orchestrator.heat import HeatBudget
from massager_ctl.orchestrator.plan import DEFAULT_RAMP_S_PER_LEVEL, Plan, ResolvedStep

#: Clock tolerance: loop-clock round-off must not make a deadline look unmet.
EPS = 1e-6
#: Heat seconds kept in reserve at least: heat counts until the off command is confirmed, which takes a
#: moment, so the engine cuts heat this much before a limit and never exceeds it. The reserve is the
#: model's watchdog timeout when that is longer: if the link fails as heat should go off, the device's
#: watchdog is what turns it off, up to that long after the last frame it heard (the cut-off at the latest).
HEAT_SLACK_S = 2.0
_LINK_ERRORS = (LinkLostError, CommandTimeoutError)


class LinkDown(Exception):
    """The link failed under a command; the engine suspends and reconnects."""


class Actuation(abc.ABC):
    """Device settings for a session: what is set, what ramps, how much heat is left."""

    plan: Plan
    _driver: Driver | None
    _deadline: float
    _offset: int

    def __init__(self, plan: Plan) -> None:
        self._level: int | None = None
        self._heat_level = 0
        self._heat_blocked = False
        # The person turned the heat off: it stays off, whatever the steps plan, until they allow it again.
        self._heat_declined = False
        self._ramp_target: int | None = None
        self._ramp_every = DEFAULT_RAMP_S_PER_LEVEL
        self._ramp_next = 0.0
        heat = plan.profile.heat
        self._heat = HeatBudget(
            contiguous_s=float(heat.max_on_s) if heat else 0.0,
            total_s=plan.heat_budget_s,
            slack_s=max(HEAT_SLACK_S, plan.profile.watchdog.timeout_s),
        )

    @abc.abstractmethod
    def _now(self) -> float:
        """The session clock."""

    @abc.abstractmethod
    def _emit(self, cls: type[BaseEvent], **fields: Any) -> None:
        """Publish an event of the session."""

    def _target_level(self, step: ResolvedStep) -> int | None:
        if step.level is None or step.level == 0:
            return step.level
        return max(1, min(self.plan.max_level, step.level + self._offset))

    async def _command(self, call: Callable[[Driver], Awaitable[DeviceState]]) -> DeviceState:
        driver = self._driver
        if driver is None:
            raise LinkDown("no link")
        try:
            return await call(driver)
        except _LINK_ERRORS as e:
            raise LinkDown(str(e)) from e

    async def _set_level(self, level: int) -> None:
        await self._command(lambda d: d.set_intensity(level))
        self._level = level

    async def _set_heat(self, level: int) -> None:
        now = self._now()
        if level:
            self._heat.switched_on(now)  # counts from the moment heat is asked for
        await self._command(lambda d: d.set_heat(level))
        self._heat_level = level
        if not level:
            self._heat.switched_off(self._now())

    async def _apply(self, step: ResolvedStep) -> None:
        """Bring the device to the step's settings; intensity ramps there."""
        assert self._driver is not None
        self._driver.keepalive = True
        state = self._driver.state
        if step.head is not None and step.head.change == "motorized" and state.head != step.head.id:
            head_id = step.head.id
            await self._command(lambda d: d.set_head(head_id))
        if step.mode is not None and state.mode != step.mode:
            mode = step.mode
            await self._command(lambda d: d.set_mode(mode))
        if step.direction is not None and state.direction != step.direction:
            direction = step.direction
            await self._command(lambda d: d.set_direction(direction))
        await self._apply_heat(step.heat)
        target = self._target_level(step)
        if target is not None:
            self._start_ramp(target, step.ramp_s)

    async def _apply_heat(self, wanted: int | None) -> None:
        if self.plan.profile.heat is None:
            return
        if self._heat_declined:
            wanted = 0
        if wanted is None:
            return
        if wanted == 0:
            if self._heat_level or self._heat.on or (self._driver and self._driver.state.heat):
                await self._set_heat(0)
            return
        if self._heat_blocked or self._heat.left(self._now()) <= EPS:
            if self._heat_level or self._heat.on:
                await self._set_heat(0)
            if not self._heat_blocked:
                self._heat_blocked = True
                self._emit(
                    Notice, level="warning", message="heat stays off: this session's heat budget is used up"
                )
            return
        if self._heat_level != wanted or (self._driver and self._driver.state.heat != wanted):
            await self._set_heat(wanted)

    async def _heat_cut(self) -> None:
        await self._set_heat(0)
        self._heat_blocked = True
        if self._deadline - self._now() <= self._heat.slack_s + EPS:
            # the step's planned heat ends within the slack anyway: off a moment early, nothing to warn about
            self._emit(Notice, level="info", message="heat off a moment early to stay within its budget")
        else:
            self._emit(
                Notice, level="warning", message="heat off: the heat budget for this stretch is used up"
            )

    async def _hold(self) -> None:
        """Motor and heat off while paused or waiting for the person; the watchdog rests once both are."""
        self._ramp_target = None
        driver = self._driver
        if self._level != 0 or (driver is not None and driver.state.intensity):
            await self._set_level(0)
        if self._heat_level or self._heat.on or (driver is not None and driver.state.heat):
            await self._set_heat(0)
        if self._driver is not None and self._driver.state.safe:
            # Only a running session feeds the watchdog: if this one hangs from here on, the device is off.
            self._driver.keepalive = False

    def _restart_from_off(self, *, heat_off_by: float) -> None:
        """A new link found the device off (confirmed): every setting starts again from off.

        Args:
            heat_off_by: when heat went off at the latest (the device's watchdog after the link was
                lost); the heat budget counts the outage up to then.
        """
        self._level = 0
        self._heat_level = 0
        self._ramp_target = None
        self._heat.switched_off(min(self._now(), heat_off_by))

    def _start_ramp(self, target: int, ramp_s: float | None) -> None:
        if self._level is None:  # after the watchdog stopped it: ramp on from where the device is, not from 0
            self._level = self._driver.state.intensity if self._driver else 0
        current = self._level
        delta = abs(target - current)
        if delta == 0:
            self._ramp_target = None
            return
        self._ramp_target = target
        self._ramp_every = ramp_s / delta if ramp_s else DEFAULT_RAMP_S_PER_LEVEL
        self._ramp_next = self._now()

    async def _ramp_tick(self) -> None:
        target = self._ramp_target
        assert target is not None
        current = self._level if self._level is not None else 0
        level = current + (1 if target > current else -1) if current != target else target
        self._ramp_next += self._ramp_every
        await self._set_level(level)
        if level == target:
            self._ramp_target = None
