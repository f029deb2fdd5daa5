"""The link supervisor: a session's link to its device, reconnects, and the one final safe stop.

It opens links (a stop during a connect wins at once), watches each one for
the device's state and its loss, reconnects with backoff after a drop, drops a
dead link without swallowing a cancel, and at the end drives the device to
motor and heat off, confirmed, over one fresh link if the current one is gone.

While suspended the session keeps nothing running: the device hears nothing from
it but "off", so its watchdog stops it within its timeout of the last frame of
the healthy link, and a new link goes on only once the device confirms motor and
heat off (a reconnect never revives old settings; the step sets them again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from massager_ctl.drivers.base import DeviceState, Driver
from massager_ctl.errors import MassagerError
from massager_ctl.events import Notice
from massager_ctl.orchestrator.clock import SessionClock
from massager_ctl.orchestrator.reporter import Reporter
from massager_ctl.orchestrator.safety import drive_safe
from massager_ctl.orchestrator.signals import AbortSession, Inbox, StopSession
from massager_ctl.retry import Backoff

log = logging.getLogger(__name__)

#: Opens a new link to the session's device and returns the opened driver.
Connector = Callable[[], Awaitable[Driver]]
#: Starts one of the session's helper tasks from a coroutine function (it lives in the session's task group).
Spawn = Callable[[Callable[[], Coroutine[Any, Any, None]], str], asyncio.Task[None]]


class LinkObserver(Protocol):
    """What the session hears from the link's watcher."""

    def device_state(self, state: DeviceState, *, generation: int, newly_tripped: bool) -> None:
        """The device reported ``state`` on link ``generation``; ``newly_tripped``: its watchdog just did."""

    def link_lost(self, generation: int, reason: str) -> None:
        """Link ``generation`` is gone (the session checks whether it is still the current one)."""


class LinkSupervisor:
    """Owns the session's current link.

    Args:
        connect: opens a link to the device; called again to reconnect after a drop.
        policy: how often and how patiently to reconnect.
        clock: the session clock (backoff delays are real seconds, whatever the speed).
        inbox: the session's signals: a stop cuts a connect or a backoff short.
        events: where notices and the device's state go.
        spawn: starts the watcher of each link among the session's helpers.
        observer: hears the watcher.
    """

    def __init__(
        self,
        connect: Connector,
        *,
        policy: Backoff,
        clock: SessionClock,
        inbox: Inbox,
        events: Reporter,
        spawn: Spawn,
        observer: LinkObserver,
    ) -> None:
        self._connect = connect
        self._policy = policy
        self._clock = clock
        self._inbox = inbox
        self._events = events
        self._spawn = spawn
        self._observer = observer
        self.driver: Driver | None = None
        #: the final stop went to a model that reports nothing: sent, not confirmed (and not a failure)
        self.stop_unconfirmed = False
        self.generation = 0
        self.watcher: asyncio.Task[None] | None = None
        #: the session is ending: a link that goes now is no news
        self.closing = False

    def is_current(self, generation: int) -> bool:
        return generation == self.generation

    async def open(self) -> Driver:
        """Open the first link and watch it.

        Raises:
            StopSession: the person stopped the session while connecting.
            MassagerError: the link could not be opened.
        """
        driver = await self._connect_unless_stopped()
        self._install(driver)
        return driver

    async def _connect_unless_stopped(self) -> Driver:
        # a stop must not wait out a whole connect timeout
        connect = asyncio.ensure_future(self._connect())
        stopped = asyncio.ensure_future(self._inbox.stopped())
        try:
            await asyncio.wait({connect, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if connect.done():
                return connect.result()
        finally:
            stopped.cancel()
            if not connect.done():
                connect.cancel()
                await asyncio.wait({connect})
        if not connect.cancelled() and connect.exception() is None:
            with contextlib.suppress(MassagerError, TimeoutError):  # opened just as the stop came
                async with asyncio.timeout(2.0):
                    await connect.result().close()
        raise StopSession(self._inbox.stop_reason or "stopped")

    def _install(self, driver: Driver) -> None:
        self.driver = driver
        self.generation += 1
        driver.keepalive = False  # fed from when a step's settings are applied: only a healthy session
        generation = self.generation
        self.watcher = self._spawn(lambda: self._watch(driver, generation), "device")

    async def _watch(self, driver: Driver, generation: int) -> None:
        reason = "the device's status stream ended"
        tripped = driver.state.watchdog_tripped
        try:
            async for state in driver.states():
                newly_tripped = state.connected and state.watchdog_tripped and not tripped
                tripped = state.watchdog_tripped
                self._observer.device_state(state, generation=generation, newly_tripped=newly_tripped)
                if not state.connected:
                    reason = "the device disconnected"
                    break
        except MassagerError as e:
            reason = f"the link failed: {e}"
        except Exception as e:  # a bug reading the device's state: treat the link as lost, keep the cause
            log.exception("watching the device failed")
            reason = f"watching the device failed: {e!r}"
        if not self.closing and generation == self.generation:
            self._observer.link_lost(generation, reason)

    async def reconnect(self, reason: str) -> int:
        """Drop the link and reconnect with backoff until a new link finds the device off; the attempts.

        Raises:
            AbortSession: every reconnect attempt failed.
            StopSession: the person stopped the session meanwhile.
        """
        await self.drop()
        attempts = 0
        for delay in self._policy.delays():
            attempts += 1
            # any signal cuts the backoff short; only a stop ends it
            signal = await self._inbox.next(self._clock.now() + delay * self._clock.speed)
            if signal is not None and signal.kind == "stop":
                raise StopSession(signal.value)
            try:
                driver = await self._connect_unless_stopped()
            except MassagerError as e:
                self._events.emit(Notice, level="info", message=f"reconnect attempt {attempts} failed: {e}")
                continue
            self._install(driver)
            if await self._confirmed_off(driver):
                return attempts
            self._events.emit(
                Notice,
                level="info",
                message=f"reconnect attempt {attempts}: the device did not confirm motor and heat off",
            )
            await self.drop()
        raise AbortSession(f"link lost ({reason}); no reconnect after {attempts} attempts")

    @staticmethod
    async def _confirmed_off(driver: Driver) -> bool:
        """Whether the device on a new link is off, stopping it if its status says otherwise.

        A link from :class:`~massager_ctl.orchestrator.device.DeviceConnector` stopped it before
        anything else; another connector's link gets its stop now.
        """
        return driver.state.safe or await drive_safe(driver) is not None

    async def drop(self) -> None:
        """Let go of the current link: stop watching it, stop feeding the watchdog, close it."""
        driver, watcher = self.driver, self.watcher
        self.driver, self.watcher = None, None
        self.generation += 1
        if watcher is not None:
            watcher.cancel()
            await asyncio.wait({watcher})  # unlike awaiting it, a cancel of this task still gets through
        if driver is not None:
            driver.keepalive = False
            with contextlib.suppress(MassagerError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await driver.close()
        self._inbox.discard("link_lost")

    async def start_safe(self, driver: Driver) -> bool:
        """Stop the device before a session: whether it confirmed (a model that reports nothing is
        sent the stop several times, and that is all there is to know)."""
        if driver.profile.control_for("stop").confirmation == "none":
            await driver.stop()
            return True
        return await drive_safe(driver) is not None

    async def make_safe(self, *, preparing: bool) -> bool:
        """Drive the device to motor and heat off, confirmed; whether it confirmed.

        Args:
            preparing: the session never got past preparing: with no link, nothing was started.
        """
        driver = self.driver
        if driver is None and preparing:
            return True
        if driver is not None and driver.profile.control_for("stop").confirmation == "none":
            # nothing can confirm it: sent (several times, by the driver) and told as such, never as safe
            with contextlib.suppress(MassagerError, TimeoutError):
                async with asyncio.timeout(5.0):
                    self._events.device(await driver.stop())
                    self.stop_unconfirmed = True
            return False
        state = await drive_safe(driver) if driver is not None else None
        if state is None:
            # The link is down or silent: one fresh connection just to stop the device.
            await self.drop()
            try:
                async with asyncio.timeout(5.0):
                    driver = await self._connect()
            except (MassagerError, TimeoutError):
                return False
            self.driver = driver
            state = await drive_safe(driver)
        if state is None:
            return False
        assert driver is not None
        driver.keepalive = False
        self._events.device(state)
        return True

    async def close(self) -> None:
        """Close the current link (the session is over)."""
        if self.driver is not None:
            with contextlib.suppress(MassagerError, TimeoutError):
                async with asyncio.timeout(3.0):
                    await self.driver.close()
