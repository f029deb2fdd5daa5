"""Recovery: reconnect after a dropped link, and the last word, making the device safe.

:class:`Recovery` is the part of :class:`~massager_ctl.orchestrator.session.Session`
that handles links: it suspends the session and reconnects with backoff (a stop
during a connect wins at once), drops a dead link without swallowing a cancel,
collects the session's helper tasks, and at the end drives the device to motor
and heat off, confirmed, over one fresh link if the current one is gone.

While suspended the session keeps nothing running: the device hears nothing from
it but "off", so its watchdog stops it within its timeout of the last frame of
the healthy link, and a new link goes on only once the device confirms motor and
heat off (a reconnect never revives old settings; the step sets them again).
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable

from massager_ctl.drivers.base import DeviceState, Driver
from massager_ctl.errors import MassagerError
from massager_ctl.events import Notice, Reconnected, Suspended
from massager_ctl.orchestrator.actuation import Actuation
from massager_ctl.orchestrator.controls import SessionState
from massager_ctl.orchestrator.safety import drive_safe
from massager_ctl.orchestrator.signals import AbortSession, Signal, StopSession
from massager_ctl.retry import Backoff

log = logging.getLogger(__name__)


class Recovery(Actuation):
    """Link handling for a session: reconnects, helper tasks, the final safe stop."""

    id: str
    speed: float
    _state: SessionState
    _remaining: float
    _step_duration: float
    _reconnect: Backoff
    _connect: Callable[[], Awaitable[Driver]]
    _watcher: asyncio.Task[None] | None
    _ticker: asyncio.Task[None] | None
    _generation: int
    _signals: collections.deque[Signal]
    _stop_reason: str | None
    _wake: asyncio.Event

    @abc.abstractmethod
    async def _wait(self, until: float | None) -> Signal | None:
        """The next signal, or ``None`` once the session clock reaches ``until``."""

    @abc.abstractmethod
    def _set_state(self, state: SessionState) -> None:
        """Enter ``state``."""

    @abc.abstractmethod
    def _install(self, driver: Driver) -> None:
        """Make ``driver`` the session's link."""

    @abc.abstractmethod
    def _emit_device(self, state: DeviceState) -> None:
        """Publish the device's state."""

    @abc.abstractmethod
    def _index(self) -> int:
        """The current step's index."""

    async def _connect_unless_stopped(self) -> Driver:
        """Open a link, unless a stop comes first: a stop must not wait out a whole connect timeout.

        Raises:
            StopSession: the person stopped the session while connecting.
        """
        connect = asyncio.ensure_future(self._connect())
        try:
            while self._stop_reason is None and not connect.done():
                self._wake.clear()
                waker = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({connect, waker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waker.cancel()
            if connect.done():
                return connect.result()
        finally:
            if not connect.done():
                connect.cancel()
                await asyncio.wait({connect})
        if not connect.cancelled() and connect.exception() is None:
            with contextlib.suppress(MassagerError, TimeoutError):  # opened just as the stop came
                async with asyncio.timeout(2.0):
                    await connect.result().close()
        raise StopSession(self._stop_reason or "stopped")

    async def _recover(self, reason: str) -> None:
        """Suspend, reconnect with backoff, and come back in the state the step was in.

        Raises:
            AbortSession: every reconnect attempt failed.
            StopSession: the person stopped the session meanwhile.
        """
        before = self._state
        now = self._now()
        if before is SessionState.RUNNING:
            self._remaining = max(0.0, self._deadline - now)
        remaining = (
            self._remaining if before in (SessionState.RUNNING, SessionState.PAUSED) else self._step_duration
        )
        self._set_state(SessionState.SUSPENDED)
        self._emit(Suspended, index=self._index(), reason=reason, remaining_s=round(remaining, 6))
        await self._drop_link()
        # the device heard the healthy link's last frame by now and nothing since but "off": its watchdog
        # has stopped it by then at the latest
        off_by = now + self.plan.profile.watchdog.timeout_s
        attempts = 0
        for delay in self._reconnect.delays():
            attempts += 1
            signal = await self._wait(self._now() + delay * self.speed)
            if signal is not None and signal.kind == "stop":
                raise StopSession(signal.value)
            try:
                driver = await self._connect_unless_stopped()
            except MassagerError as e:
                self._emit(Notice, level="info", message=f"reconnect attempt {attempts} failed: {e}")
                continue
            self._install(driver)
            if await self._confirmed_off(driver):
                break
            self._emit(
                Notice,
                level="info",
                message=f"reconnect attempt {attempts}: the device did not confirm motor and heat off",
            )
            await self._drop_link()
        else:
            raise AbortSession(f"link lost ({reason}); no reconnect after {attempts} attempts")
        self._restart_from_off(heat_off_by=off_by)
        if before is SessionState.RUNNING:
            self._deadline = self._now() + self._remaining
        self._set_state(before)
        self._emit(Reconnected, index=self._index(), attempts=attempts, remaining_s=round(remaining, 6))
        if self._driver is not None:
            self._emit_device(self._driver.state)

    @staticmethod
    async def _confirmed_off(driver: Driver) -> bool:
        """Whether the device on a new link is off, stopping it if its status says otherwise.

        A link from :class:`~massager_ctl.orchestrator.device.DeviceConnector` stopped it before
        anything else; another connector's link gets its stop now.
        """
        return driver.state.safe or await drive_safe(driver) is not None

    async def _drop_link(self) -> None:
        driver, watcher = self._driver, self._watcher
        self._driver, self._watcher = None, None
        self._generation += 1
        if watcher is not None:
            watcher.cancel()
            await asyncio.wait({watcher})  # unlike awaiting it, a cancel of this task still gets through
        if driver is not None:
            driver.keepalive = False
            with contextlib.suppress(MassagerError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await driver.close()
        self._signals = collections.deque(s for s in self._signals if s.kind != "link_lost")

    async def _collect_helpers(self) -> None:
        tasks = {t for t in (self._ticker, self._watcher) if t is not None}
        self._ticker = self._watcher = None
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        await asyncio.wait(tasks)  # unlike awaiting them, lets a cancel of this task through
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                log.error("session %s: task %s failed", self.id, task.get_name(), exc_info=task.exception())

    async def _make_safe(self) -> bool:
        driver = self._driver
        if driver is None and self._state is SessionState.PREPARING:
            return True  # never connected: nothing was started
        state = await drive_safe(driver) if driver is not None else None
        if state is None:
            # The link is down or silent: one fresh connection just to stop the device.
            await self._drop_link()
            try:
                async with asyncio.timeout(5.0):
                    driver = await self._connect()
            except (MassagerError, TimeoutError):
                return False
            self._driver = driver
            state = await drive_safe(driver)
        if state is None:
            return False
        assert self._driver is not None
        self._driver.keepalive = False
        self._emit_device(state)
        return True
