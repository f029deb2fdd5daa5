"""The driver's lanes: queued settings (latest wins, one in flight, a minimum gap), stop, keepalive.

* **settings** — ``set_*`` calls go into a queue keyed by setting; a newer value for a queued
  setting replaces the older one. One worker sends them, leaving at least ``min_command_gap_s``
  between two setting commands, one command in flight at a time.
* **stop** — sent at once, ahead of the queue and regardless of the gap; it empties the queue,
  stops retries of a setting in flight, and is resent until a status shows motor and heat off.
* **keepalive** — a ping whenever the link has been quiet for ``keepalive_s``, while open and
  ``keepalive`` is on (turning it off also ends the retries of one in flight); a ping unanswered
  after every retry means the link is lost. While the state is stale it asks for a status first,
  so the state is known again as soon as the device answers; an unanswered status request alone
  does not count as a lost link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from massager_ctl.drivers.base import DeviceState
from massager_ctl.drivers.control import Control
from massager_ctl.drivers.families import Setting
from massager_ctl.drivers.transact import Link, Superseded, fail_waiters
from massager_ctl.errors import (
    CommandTimeoutError,
    DeviceError,
    DeviceRefusedError,
    LinkLostError,
    ProtocolError,
)
from massager_ctl.protocol.messages import GetStatus, Ping, SettingCommand, Stop

logger = logging.getLogger(__name__)

_CLOCK_SLACK_S = 0.001


def _retrieve(task: asyncio.Task[DeviceState]) -> None:
    if not task.cancelled():
        task.exception()


@dataclass(slots=True)
class Queued:
    """A queued setting: the latest value and everyone waiting for it."""

    command: Callable[[int], SettingCommand]
    waiters: list[asyncio.Future[DeviceState]] = field(default_factory=list)


class Lanes:
    """The settings, stop and keepalive lanes over one :class:`Link`.

    Args:
        link: the link the lanes send on.
        controls: the strategy of each setting (see :func:`~massager_ctl.drivers.control.controls_for`).
        gap_s: the least time between two setting commands.
        keepalive_s: how long the link may be quiet before a ping (``None``: the model has no
            watchdog to feed, and the keepalive lane does not run).
        stop_confirmed: whether the model reports its state, so a stop is resent until the status
            confirms it (else it is sent repeatedly and the stopped state is ``assumed``).
    """

    def __init__(
        self,
        link: Link,
        *,
        controls: dict[Setting, Control],
        gap_s: float,
        keepalive_s: float | None,
        stop_confirmed: bool = True,
    ) -> None:
        self._link = link
        self._controls = controls
        self._gap = gap_s
        self._keepalive_s = keepalive_s
        self._stop_confirmed = stop_confirmed
        self._queue: dict[Setting, Queued] = {}
        self._queue_values: dict[Setting, int] = {}
        self._in_flight: dict[Setting, int] = {}
        self._wake = asyncio.Event()
        self._keepalive_on = asyncio.Event()
        self._helpers: set[asyncio.Task[None]] = set()
        self._stop_epoch = 0
        self._stop_task: asyncio.Task[DeviceState] | None = None
        self._last_setting_at = -float("inf")
        link.on_lost(self._on_lost)

    @property
    def wanted(self) -> list[tuple[Setting, int]]:
        """The settings in flight, then those queued, each with its value."""
        return [*self._in_flight.items(), *self._queue_values.items()]

    @property
    def keepalive(self) -> bool:
        return self._keepalive_on.is_set()

    @keepalive.setter
    def keepalive(self, enabled: bool) -> None:
        if enabled:
            self._keepalive_on.set()
        else:
            self._keepalive_on.clear()

    async def settings_loop(self) -> None:
        """The settings lane (runs until cancelled or the link is lost)."""
        try:
            await self._send_settings()
        except Exception as e:
            # a bug, not a device answer: with the lane gone no setting would ever go out again
            lost = e if isinstance(e, LinkLostError) else self._link.failure("the settings lane failed", e)
            self._link.link_lost(lost)

    async def cancel_helpers(self) -> None:
        """Cancel the tasks that answer callers overtaken by a stop (on close)."""
        for helper in self._helpers:
            helper.cancel()
        await asyncio.gather(*self._helpers, return_exceptions=True)

    async def submit(self, key: Setting, value: int, command: Callable[[int], SettingCommand]) -> DeviceState:
        """Queue ``key`` at ``value`` (replacing a queued value) and return the state once it is applied.

        Raises:
            CommandTimeoutError, DeviceRefusedError, LinkLostError, ProtocolError: as the control
                strategy of ``key`` raises them.
        """
        self._link.check_usable()
        waiter: asyncio.Future[DeviceState] = asyncio.get_running_loop().create_future()
        queued = self._queue.setdefault(key, Queued(command))
        queued.command = command
        queued.waiters.append(waiter)
        self._queue_values[key] = value
        self._wake.set()
        return await waiter

    async def _send_settings(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                delay = self._last_setting_at + self._gap - loop.time()
                if delay > _CLOCK_SLACK_S:  # a float hair's breadth early must not spin (virtual clocks)
                    # changes arriving meanwhile coalesce into the queued entry
                    await asyncio.sleep(delay)
                    continue
                if self._stop_task is not None and not self._stop_task.done():
                    # settings asked for after a stop go out once the stop is confirmed
                    await asyncio.wait([self._stop_task])
                    continue
                key = next(iter(self._queue))
                queued = self._queue.pop(key)
                value = self._queue_values.pop(key)
                self._last_setting_at = loop.time()
                self._in_flight = {key: value}
                try:
                    await self._run_setting(key, queued, value)
                finally:
                    self._in_flight = {}

    async def _run_setting(self, key: Setting, queued: Queued, value: int) -> None:
        epoch = self._stop_epoch
        try:
            await self._controls[key].apply(
                self._link, key, value, queued.command, abort=lambda: self._stop_epoch != epoch
            )
        except Superseded:
            await self._resolve_after_stop(queued.waiters)
        except DeviceError as e:
            fail_waiters(queued.waiters, e)
        except Exception as e:
            # a bug, not a device answer: the callers get an error, never a hang
            error = self._link.failure("the settings lane failed", e)
            fail_waiters(queued.waiters, error)
            raise error from e
        except BaseException:
            # cancelled by close: the setting in flight will never be confirmed
            fail_waiters(queued.waiters, self._link.closed_error())
            raise
        else:
            for waiter in queued.waiters:
                if not waiter.done():
                    waiter.set_result(self._link.state)

    # -- stop lane -----------------------------------------------------------------------------

    async def stop(self) -> DeviceState:
        """Motor and heat off, ahead of anything queued (see the module docstring).

        Raises:
            CommandTimeoutError: the device never confirmed after every retry.
            LinkLostError: the link is down.
        """
        if self._link.lost is not None:
            raise self._link.lost
        if self._stop_task is None or self._stop_task.done():
            self._stop_epoch += 1
            superseded = [w for q in self._queue.values() for w in q.waiters]
            self._queue.clear()
            self._queue_values.clear()
            self._in_flight = {}
            stopping = self._confirmed_stop() if self._stop_confirmed else self._unconfirmed_stop()
            self._stop_task = asyncio.create_task(stopping, name=f"{self._link.profile.id} stop")
            # the outcome reaches every caller through the shield below; this keeps asyncio from
            # reporting it as unretrieved when all callers were cancelled
            self._stop_task.add_done_callback(_retrieve)
            if superseded:
                helper = asyncio.create_task(
                    self._resolve_after_stop(superseded), name=f"{self._link.profile.id} superseded"
                )
                self._helpers.add(helper)
                helper.add_done_callback(self._helpers.discard)
        # shield: one caller giving up must not abort the stop the others (and safety) rely on
        return await asyncio.shield(self._stop_task)

    async def _confirmed_stop(self) -> DeviceState:
        attempts = max(self._link.retries + 1, 3)
        last_error: DeviceError | None = None
        for _ in range(attempts):
            try:
                await self._link.transact(lambda seq: Stop(seq=seq))
                if not self._link.state.safe:
                    await self._link.transact(lambda seq: GetStatus(seq=seq))
            except (CommandTimeoutError, ProtocolError, DeviceRefusedError) as e:
                last_error = e
                continue
            if self._link.state.safe:
                return self._link.state
        raise CommandTimeoutError(
            f"{self._link.transport.description}: stop was not confirmed after {attempts} attempts"
            + (f" ({last_error})" if last_error else "")
        )

    async def _unconfirmed_stop(self) -> DeviceState:
        """A model that reports nothing: send the stop several times, then show it as assumed."""
        loop = asyncio.get_running_loop()
        for attempt in range(max(self._link.retries + 1, 3)):
            if attempt:
                await asyncio.sleep(self._gap)
            await self._link.send_only(Stop())
            self._last_setting_at = loop.time()
        stopped = replace(self._link.state, motor=False, intensity=0, heat=0)
        self._link.assume(stopped)
        return self._link.state

    async def _resolve_after_stop(self, waiters: list[asyncio.Future[DeviceState]]) -> None:
        task = self._stop_task
        outcome: DeviceState | BaseException = self._link.state
        if task is not None:
            try:
                outcome = await asyncio.shield(task)
            except DeviceError as e:
                outcome = e
            except asyncio.CancelledError:
                fail_waiters(waiters, self._link.closed_error())
                raise
        for waiter in waiters:
            if waiter.done():
                continue
            if isinstance(outcome, BaseException):
                waiter.set_exception(outcome)
            else:
                waiter.set_result(outcome)

    # -- keepalive -----------------------------------------------------------------------------

    async def keepalive_loop(self) -> None:
        """The keepalive lane (runs until cancelled or the link is lost; idle without a keepalive period)."""
        if self._keepalive_s is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            await self._keepalive_on.wait()
            # any valid frame feeds the watchdog: ping only when the link has been quiet
            wait = self._link.last_sent_at + self._keepalive_s - loop.time()
            if wait > _CLOCK_SLACK_S:  # a float hair's breadth early must not spin (virtual clocks)
                await asyncio.sleep(wait)
                continue
            try:
                # turned off meanwhile: not even a retry may feed the watchdog any more
                await self._keepalive_exchange()
            except Superseded:
                continue
            except LinkLostError:
                return
            except CommandTimeoutError as e:
                # silence through every retry is how a serial link dies (a pty or a dead bridge
                # never hangs up): from here on the device is unreachable
                lost = LinkLostError(
                    f"{self._link.transport.description}: the device stopped answering ({e})"
                )
                lost.__cause__ = e
                self._link.link_lost(lost)
                return
            except (ProtocolError, DeviceRefusedError) as e:
                logger.warning("%s: keepalive failed: %s", self._link.transport.description, e)

    async def _keepalive_exchange(self) -> None:
        """One keepalive: a status request while the state is stale, else (or if unanswered) a ping.

        Raises:
            CommandTimeoutError: the ping went unanswered; ProtocolError, DeviceRefusedError,
                LinkLostError as for any command; Superseded: the keepalive was turned off meanwhile.
        """
        off = lambda: not self._keepalive_on.is_set()  # noqa: E731
        if self._link.state.stale:
            try:
                await self._link.transact(lambda seq: GetStatus(seq=seq), abort=off)
                return
            except (CommandTimeoutError, ProtocolError) as e:
                logger.info("%s: state still unknown: %s", self._link.transport.description, e)
        await self._link.transact(lambda seq: Ping(seq=seq), abort=off)

    def fail_queued(self, error: DeviceError) -> None:
        """Fail every caller whose setting is still queued (the link is lost or closed)."""
        for queued in self._queue.values():
            fail_waiters(queued.waiters, error)
        self._queue.clear()
        self._queue_values.clear()

    def _on_lost(self, error: LinkLostError) -> None:
        self._keepalive_on.clear()
        self.fail_queued(error)
