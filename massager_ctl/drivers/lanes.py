"""The driver's lanes: queued settings (latest wins, one in flight, a minimum gap), stop, keepalive.

* **settings** — ``set_*`` calls go into a queue keyed by setting; a newer value for a queued
  setting replaces the older one. One worker sends them, leaving at least ``min_command_gap_s``
  between two setting commands, one command in flight at a time.
* **stop** — sent at once, ahead of the queue and regardless of the gap; it empties the queue,
  stops retries of a setting in flight, and is resent until a status shows motor and heat off.
* **keepalive** — a ping whenever the link has been quiet for ``keepalive_s``, while open and
  ``keepalive`` is on; a ping unanswered after every retry means the link is lost. While the
  state is stale it asks for a status first, so the state is known again as soon as the device
  answers; an unanswered status request alone does not count as a lost link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from massager_ctl.drivers.base import DeviceState
from massager_ctl.drivers.transact import Superseded, Transactor
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


class Lanes(Transactor):
    """The settings, stop and keepalive lanes on top of :class:`Transactor`."""

    _gap: float
    _keepalive_s: float
    _queue: dict[str, Queued]
    _queue_values: dict[str, int]
    _in_flight: dict[str, int]
    _wake: asyncio.Event
    _helpers: set[asyncio.Task[None]]
    _stop_epoch: int
    _stop_task: asyncio.Task[DeviceState] | None
    _last_setting_at: float

    async def _submit(self, key: str, value: int, command: Callable[[int], SettingCommand]) -> DeviceState:
        self._check_usable()
        waiter: asyncio.Future[DeviceState] = asyncio.get_running_loop().create_future()
        queued = self._queue.setdefault(key, Queued(command))
        queued.command = command
        queued.waiters.append(waiter)
        self._queue_values[key] = value
        self._wake.set()
        return await waiter

    async def _settings_loop(self) -> None:
        try:
            await self._send_settings()
        except Exception as e:
            # a bug, not a device answer: with the lane gone no setting would ever go out again
            lost = e if isinstance(e, LinkLostError) else self._failure("the settings lane failed", e)
            self._link_lost(lost)

    async def _send_settings(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                delay = self._last_setting_at + self._gap - loop.time()
                if delay > _CLOCK_SLACK_S:  # as the keepalive: a hair's breadth early must not spin
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
                    await self._run_setting(queued, value)
                finally:
                    self._in_flight = {}

    async def _run_setting(self, queued: Queued, value: int) -> None:
        epoch = self._stop_epoch
        try:
            await self._transact(
                lambda seq: replace(queued.command(value), seq=seq), abort=lambda: self._stop_epoch != epoch
            )
        except Superseded:
            await self._resolve_after_stop(queued.waiters)
        except DeviceError as e:
            self._fail_waiters(queued.waiters, e)
        except Exception as e:
            # a bug, not a device answer: the callers get an error, never a hang
            error = self._failure("the settings lane failed", e)
            self._fail_waiters(queued.waiters, error)
            raise error from e
        except BaseException:
            # cancelled by close: the setting in flight will never be confirmed
            self._fail_waiters(queued.waiters, self._closed_error())
            raise
        else:
            for waiter in queued.waiters:
                if not waiter.done():
                    waiter.set_result(self._state)

    # -- stop lane -----------------------------------------------------------------------------

    async def stop(self) -> DeviceState:
        if self._lost is not None:
            raise self._lost
        if self._stop_task is None or self._stop_task.done():
            self._stop_epoch += 1
            superseded = [w for q in self._queue.values() for w in q.waiters]
            self._queue.clear()
            self._queue_values.clear()
            self._in_flight = {}
            self._stop_task = asyncio.create_task(self._confirmed_stop(), name=f"{self.profile.id} stop")
            # the outcome reaches every caller through the shield below; this keeps asyncio from
            # reporting it as unretrieved when all callers were cancelled
            self._stop_task.add_done_callback(_retrieve)
            if superseded:
                helper = asyncio.create_task(
                    self._resolve_after_stop(superseded), name=f"{self.profile.id} superseded"
                )
                self._helpers.add(helper)
                helper.add_done_callback(self._helpers.discard)
        # shield: one caller giving up must not abort the stop the others (and safety) rely on
        return await asyncio.shield(self._stop_task)

    async def _confirmed_stop(self) -> DeviceState:
        attempts = max(self._retries + 1, 3)
        last_error: DeviceError | None = None
        for _ in range(attempts):
            try:
                await self._transact(lambda seq: Stop(seq=seq))
                if not self._state.safe:
                    await self._transact(lambda seq: GetStatus(seq=seq))
            except (CommandTimeoutError, ProtocolError, DeviceRefusedError) as e:
                last_error = e
                continue
            if self._state.safe:
                return self._state
        raise CommandTimeoutError(
            f"{self.transport.description}: stop was not confirmed after {attempts} attempts"
            + (f" ({last_error})" if last_error else "")
        )

    async def _resolve_after_stop(self, waiters: list[asyncio.Future[DeviceState]]) -> None:
        task = self._stop_task
        outcome: DeviceState | BaseException = self._state
        if task is not None:
            try:
                outcome = await asyncio.shield(task)
            except DeviceError as e:
                outcome = e
            except asyncio.CancelledError:
                self._fail_waiters(waiters, self._closed_error())
                raise
        for waiter in waiters:
            if waiter.done():
                continue
            if isinstance(outcome, BaseException):
                waiter.set_exception(outcome)
            else:
                waiter.set_result(outcome)

    # -- keepalive -----------------------------------------------------------------------------

    async def _keepalive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._keepalive_on.wait()
            # any valid frame feeds the watchdog: ping only when the link has been quiet
            wait = self._last_sent_at + self._keepalive_s - loop.time()
            if wait > _CLOCK_SLACK_S:  # a float hair's breadth early must not spin (virtual clocks)
                await asyncio.sleep(wait)
                continue
            try:
                await self._keepalive_exchange()
            except LinkLostError:
                return
            except CommandTimeoutError as e:
                # silence through every retry is how a serial link dies (a pty or a dead bridge
                # never hangs up): from here on the device is unreachable
                lost = LinkLostError(f"{self.transport.description}: the device stopped answering ({e})")
                lost.__cause__ = e
                self._link_lost(lost)
                return
            except (ProtocolError, DeviceRefusedError) as e:
                logger.warning("%s: keepalive failed: %s", self.transport.description, e)

    async def _keepalive_exchange(self) -> None:
        """One keepalive: a status request while the state is stale, else (or if unanswered) a ping.

        Raises:
            CommandTimeoutError: the ping went unanswered; ProtocolError, DeviceRefusedError,
                LinkLostError as for any command.
        """
        if self._state.stale:
            try:
                await self._transact(lambda seq: GetStatus(seq=seq))
                return
            except (CommandTimeoutError, ProtocolError) as e:
                logger.info("%s: state still unknown: %s", self.transport.description, e)
        await self._transact(lambda seq: Ping(seq=seq))

    def _fail_all(self, error: DeviceError) -> None:
        super()._fail_all(error)
        for queued in self._queue.values():
            self._fail_waiters(queued.waiters, error)
        self._queue.clear()
        self._queue_values.clear()
