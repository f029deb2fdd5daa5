"""The driver of every catalog model: one link, confirmed state, coalesced settings, a stop lane.

The protocol family (``mbin`` / ``mascii``) is an adaptor (:mod:`massager_ctl.drivers.families`);
everything else — acks, retries, the minimum gap, coalescing, the stop lane, the keepalive,
link loss — is the same for both.

Lanes:

* **settings** — ``set_*`` calls go into a queue keyed by setting; a newer value for a queued
  setting replaces the older one (latest wins). One worker sends them, leaving at least
  ``min_command_gap_s`` between two setting commands, one command in flight at a time.
* **stop** — sent at once, ahead of the queue and regardless of the gap; it empties the queue,
  stops retries of a setting in flight, and is resent until a status shows motor and heat off.
* **keepalive** — a ping whenever the link has been quiet for ``keepalive_s``, while open and
  ``keepalive`` is on; a ping unanswered after every retry means the link is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from massager_ctl.drivers.base import DeviceState, Driver, DriverOptions, Identity
from massager_ctl.drivers.families import ANY_COMMAND, Family, family_for
from massager_ctl.errors import (
    CommandTimeoutError,
    ConfigError,
    DeviceError,
    DeviceRefusedError,
    LinkLostError,
    ProtocolError,
)
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol.messages import (
    Ack,
    Command,
    GetStatus,
    Hello,
    IdentityReport,
    Message,
    Nak,
    Ping,
    Report,
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    SettingCommand,
    StatusReport,
    Stop,
)
from massager_ctl.transports.base import Transport

if TYPE_CHECKING:
    from firmware_sim import SimulatedDevice

logger = logging.getLogger(__name__)

# Naks that mean the frame was damaged on the way, not that the device refused: send it again.
_DAMAGED = frozenset({"bad_checksum", "bad_length", "syntax", "bad_sync"})
_END = None
_CLOCK_SLACK_S = 0.001


#: States kept for a ``states()`` reader that falls behind; older ones are dropped (latest wins).
STATES_BACKLOG = 16


def _offer(queue: asyncio.Queue[DeviceState | None], item: DeviceState | None) -> None:
    """Queue ``item``, dropping the oldest entry when a slow reader has let the queue fill up."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


def _retrieve(task: asyncio.Task[DeviceState]) -> None:
    if not task.cancelled():
        task.exception()


class _Superseded(Exception):
    """A setting command in flight was overtaken by stop; its waiters get the state after the stop."""


@dataclass(slots=True)
class _Pending:
    """A command in flight: the reply future, and the status that follows its ack."""

    key: int | str
    reply: asyncio.Future[Report]
    status: asyncio.Future[StatusReport] | None


@dataclass(slots=True)
class _Queued:
    """A queued setting: the latest value and everyone waiting for it."""

    command: Callable[[int], SettingCommand]
    waiters: list[asyncio.Future[DeviceState]] = field(default_factory=list)


class MassagerDriver(Driver):
    """A driver for one catalog model over one transport.

    Args:
        profile: the model's catalog entry.
        transport: an unopened link to the device; the driver opens and closes it.
        options: timing overrides (``None`` fields take the catalog's values).
    """

    def __init__(
        self, profile: DeviceProfile, transport: Transport, *, options: DriverOptions | None = None
    ) -> None:
        options = options or DriverOptions()
        self.profile = profile
        self.transport = transport
        self.simulator: SimulatedDevice | None = None
        """The in-process simulator behind a ``sim://`` URL, else ``None``."""
        self._family: Family = family_for(profile)
        self._ack_timeout = options.ack_timeout_s or profile.protocol.ack_timeout_s
        self._retries = profile.protocol.retries if options.retries is None else options.retries
        gap = options.min_command_gap_s
        self._gap = profile.protocol.min_command_gap_s if gap is None else gap
        self._keepalive_s = options.keepalive_s or profile.watchdog.keepalive_s
        self._identity: Identity | None = None
        self._state = DeviceState()
        self._queue: dict[str, _Queued] = {}
        self._queue_values: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._keepalive_on = asyncio.Event()
        self._pending: list[_Pending] = []
        self._awaiting_status: list[asyncio.Future[StatusReport]] = []
        self._subscribers: list[asyncio.Queue[DeviceState | None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._helpers: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._stop_epoch = 0
        self._stop_task: asyncio.Task[DeviceState] | None = None
        self._last_setting_at = -float("inf")
        self._last_sent_at = -float("inf")
        self._lost: LinkLostError | None = None
        self._opened = False
        self._closed = False
        self.frames_sent = 0
        """Frames written to the link (retries included), for diagnostics and benchmarks."""

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._opened:
            return
        self._opened = True
        try:
            await self.transport.open()
            self._spawn(self._read_loop(), "reader")
            self._identity = await self._identify()
            await self.refresh()
            self._spawn(self._settings_loop(), "settings")
            self._spawn(self._keepalive_loop(), "keepalive")
            self._keepalive_on.set()
        except BaseException:
            self._closed = True
            await self._shutdown()
            raise

    async def close(self) -> None:
        if self._closed or not self._opened:
            self._closed = True
            return
        try:
            if self._lost is None:
                await self.stop()
        except DeviceError as e:
            logger.warning("%s: stop on close was not confirmed: %s", self.transport.description, e)
        finally:
            self._closed = True
            await self._shutdown()

    async def _shutdown(self) -> None:
        self._keepalive_on.clear()
        for task in self._tasks:
            task.cancel()
        # the tasks only ever end by cancellation or link loss, never with an error worth raising
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._fail_all(self._closed_error())
        for helper in self._helpers:
            helper.cancel()
        await asyncio.gather(*self._helpers, return_exceptions=True)
        await self.transport.close()
        self._state = replace(self._state, connected=False)
        self._end_streams()

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coroutine, name=f"{self.profile.id} {name}"))

    # -- public state ----------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            raise ConfigError("the driver is not open; use 'async with driver:' first")
        return self._identity

    @property
    def state(self) -> DeviceState:
        return self._state

    @property
    def desired(self) -> DeviceState:
        """The confirmed state with every setting asked for but not yet confirmed applied."""
        desired = self._state
        for key, value in [*self._in_flight.items(), *self._queue_values.items()]:
            desired = self._with_setting(desired, key, value)
        return desired

    async def states(self) -> AsyncIterator[DeviceState]:
        queue: asyncio.Queue[DeviceState | None] = asyncio.Queue(maxsize=STATES_BACKLOG)
        if self._closed or self._lost is not None:
            return
        self._subscribers.append(queue)
        try:
            while (state := await queue.get()) is not _END:
                assert state is not None
                yield state
        finally:
            self._subscribers.remove(queue)

    @property
    def keepalive(self) -> bool:
        return self._keepalive_on.is_set()

    @keepalive.setter
    def keepalive(self, enabled: bool) -> None:
        if enabled:
            self._keepalive_on.set()
        else:
            self._keepalive_on.clear()

    # -- settings ------------------------------------------------------------------------------

    async def set_intensity(self, level: int) -> DeviceState:
        level = max(0, min(self.profile.intensity.max_level, int(level)))
        return await self._submit("intensity", level, lambda v: SetIntensity(level=v))

    async def set_head(self, head_id: str) -> DeviceState:
        head = self.profile.head(head_id)
        if head is None:
            known = ", ".join(h.id for h in self.profile.heads)
            raise ConfigError(f"{self.profile.id} has no head {head_id!r}; heads: {known}")
        if head.change == "manual":
            raise DeviceRefusedError(
                f"{self.profile.id}: the {head.name} head is changed by hand; ask the person to fit it",
                code="not_supported",
            )
        return await self._submit("head", head.code, lambda v: SetHead(code=v))

    async def set_heat(self, level: int) -> DeviceState:
        heat = self.profile.heat
        if heat is None:
            if level <= 0:
                return self._state
            raise DeviceRefusedError(f"{self.profile.id} has no heater", code="not_supported")
        level = max(0, min(len(heat.levels) - 1, int(level)))
        return await self._submit("heat", level, lambda v: SetHeat(level=v))

    async def set_mode(self, mode: str) -> DeviceState:
        if mode not in self.profile.modes:
            raise ConfigError(
                f"{self.profile.id} has no mode {mode!r}; modes: {', '.join(self.profile.modes)}"
            )
        return await self._submit("mode", self.profile.modes.index(mode), lambda v: SetMode(mode=v))

    async def set_direction(self, direction: str) -> DeviceState:
        if not self.profile.directions:
            raise DeviceRefusedError(f"{self.profile.id} has no direction setting", code="not_supported")
        if direction not in self.profile.directions:
            known = ", ".join(self.profile.directions)
            raise ConfigError(f"{self.profile.id} has no direction {direction!r}; directions: {known}")
        index = self.profile.directions.index(direction)
        return await self._submit("direction", index, lambda v: SetDirection(direction=v))

    async def refresh(self) -> DeviceState:
        self._check_usable()
        report = await self._transact(lambda seq: GetStatus(seq=seq))
        if not isinstance(report, StatusReport):
            raise ProtocolError(f"{self.transport.description}: expected a status, got {report}")
        return self._state

    async def _submit(self, key: str, value: int, command: Callable[[int], SettingCommand]) -> DeviceState:
        self._check_usable()
        waiter: asyncio.Future[DeviceState] = asyncio.get_running_loop().create_future()
        queued = self._queue.setdefault(key, _Queued(command))
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
                if delay > 0:
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

    async def _run_setting(self, queued: _Queued, value: int) -> None:
        epoch = self._stop_epoch
        try:
            await self._transact(
                lambda seq: replace(queued.command(value), seq=seq), abort=lambda: self._stop_epoch != epoch
            )
        except _Superseded:
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
                await self._transact(lambda seq: Ping(seq=seq))
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

    # -- one command on the wire -----------------------------------------------------------

    async def _identify(self) -> Identity:
        report = await self._transact(lambda seq: Hello(seq=seq))
        if not isinstance(report, IdentityReport):
            raise ProtocolError(f"{self.transport.description}: expected an identity, got {report}")
        expected = self.profile.protocol.model_code
        if report.model_code != expected:
            raise ProtocolError(
                f"{self.transport.description} is model code 0x{report.model_code:02x}, "
                f"not {self.profile.id} (0x{expected:02x})"
            )
        return Identity(self.profile.id, report.model_code, report.firmware, report.serial)

    def _next_seq(self) -> int:
        busy = {p.key for p in self._pending}
        for _ in range(255):
            self._seq = self._seq % 255 + 1
            if self._seq not in busy:
                return self._seq
        raise ProtocolError("no free sequence number: 255 commands in flight")

    async def _transact(
        self, build: Callable[[int], Command], *, abort: Callable[[], bool] | None = None
    ) -> Report:
        """Send a command, retrying with the same frame until it is answered.

        Returns the ack, identity or status that answers it (after the status that follows
        the ack of a state-changing command, when one comes).

        Raises:
            CommandTimeoutError, DeviceRefusedError, LinkLostError; ``_Superseded`` when ``abort``.
        """
        self._check_usable()
        command = build(self._next_seq() if self._family.uses_seq else 0)
        frame = self._family.encode(command)
        key = self._family.request_key(command)
        changes_state = isinstance(command, SetIntensity | SetHead | SetHeat | SetMode | SetDirection | Stop)
        loop = asyncio.get_running_loop()
        for attempt in range(self._retries + 1):
            if abort is not None and abort():
                raise _Superseded
            pending = _Pending(key, loop.create_future(), loop.create_future() if changes_state else None)
            self._pending.append(pending)
            try:
                await self.transport.send(frame)
                self.frames_sent += 1
                self._last_sent_at = loop.time()
                async with asyncio.timeout(self._ack_timeout):
                    reply = await pending.reply
            except TimeoutError:
                logger.info(
                    "%s: no answer to %s (attempt %d)", self.transport.description, command, attempt + 1
                )
                continue
            except LinkLostError as e:
                self._link_lost(e)
                raise
            finally:
                if pending in self._pending:
                    self._pending.remove(pending)
            if isinstance(reply, Nak):
                if reply.error in _DAMAGED:
                    logger.info(
                        "%s: %s arrived damaged (%s); resending",
                        self.transport.description,
                        command,
                        reply.error,
                    )
                    continue
                raise DeviceRefusedError(
                    f"{self.profile.id} refused {command.name}: {reply.error}", code=reply.error
                )
            if pending.status is not None:
                await self._confirm_after_ack(command, pending.status)
            return reply
        raise CommandTimeoutError(
            f"{self.transport.description}: no answer to {command.name} after {self._retries + 1} attempts"
        )

    async def _confirm_after_ack(self, command: Command, status: asyncio.Future[StatusReport]) -> None:
        """Wait for the status that follows an ack; if it was lost on the way, ask for one."""
        try:
            async with asyncio.timeout(self._ack_timeout):
                await status
            return
        except TimeoutError:
            logger.info("%s: no status after the ack of %s; asking", self.transport.description, command)
        try:
            await self._transact(lambda seq: GetStatus(seq=seq))
        except (CommandTimeoutError, ProtocolError) as e:
            # the command itself was acked; the state stays at the last status decoded
            logger.warning("%s: state after %s not confirmed: %s", self.transport.description, command, e)

    # -- the reader --------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            await self._read_frames()
        except Exception as e:
            # without the reader every command would time out one by one: fail them all now
            self._link_lost(self._failure("the reader failed", e))

    async def _read_frames(self) -> None:
        framer = self._family.framer(message_oriented=self.transport.message_oriented)
        while True:
            try:
                chunk = await self.transport.recv()
            except LinkLostError as e:
                self._link_lost(e)
                return
            for data in framer.feed(chunk):
                try:
                    self._dispatch(self._family.decode(data))
                except ProtocolError as e:
                    logger.warning("%s: dropped a bad frame %r: %s", self.transport.description, data, e)

    def _dispatch(self, message: Message) -> None:
        """Route one decoded frame.

        Raises:
            ProtocolError: a status with a value outside the model's ranges (nothing is updated).
        """
        if isinstance(message, StatusReport):
            self._on_status(message)
        if not isinstance(message, Ack | Nak | IdentityReport | StatusReport):
            logger.warning("%s: device sent a command frame %s; ignored", self.transport.description, message)
            return
        key = self._family.reply_key(message)
        for pending in self._pending:
            if pending.reply.done():
                continue
            if key == pending.key or (key == ANY_COMMAND and isinstance(message, Nak)):
                pending.reply.set_result(message)
                if pending.status is not None and isinstance(message, Ack):
                    self._awaiting_status.append(pending.status)
                return
        if isinstance(message, Nak):
            logger.info("%s: nak %s matches no command in flight", self.transport.description, message)

    def _on_status(self, report: StatusReport) -> None:
        self._check_status(report)
        profile = self.profile
        head = profile.head_by_code(report.head)
        directions = profile.directions
        state = DeviceState(
            connected=True,
            motor=report.motor,
            head=head.id if head else None,
            intensity=report.intensity,
            heat=report.heat,
            mode=profile.modes[report.mode],
            direction=directions[report.direction] if directions else None,
            temperature_c=report.temperature_c,
            battery=report.battery if profile.battery else None,
            watchdog_tripped=report.watchdog_tripped,
            low_battery=report.low_battery,
            overheat=report.overheat,
            heat_auto_off=report.heat_auto_off,
        )
        changed = state != self._state
        self._state = state
        waiting, self._awaiting_status = self._awaiting_status, []
        for future in waiting:
            if not future.done():
                future.set_result(report)
        if changed:
            for queue in self._subscribers:
                _offer(queue, state)

    def _check_status(self, report: StatusReport) -> None:
        """Refuse a status the model cannot be in: the rest of the program trusts ``state``'s ranges."""
        profile = self.profile
        heat_levels = len(profile.heat.levels) if profile.heat else 1
        problems = []
        if report.head != 0 and profile.head_by_code(report.head) is None:
            problems.append(f"head code {report.head}")
        if not 0 <= report.intensity <= profile.intensity.max_level:
            problems.append(f"intensity {report.intensity} (0-{profile.intensity.max_level})")
        if not 0 <= report.heat < heat_levels:
            problems.append(f"heat level {report.heat} (0-{heat_levels - 1})")
        if not 0 <= report.mode < len(profile.modes):
            problems.append(f"mode {report.mode} (0-{len(profile.modes) - 1})")
        if not 0 <= report.direction < max(1, len(profile.directions)):
            problems.append(f"direction {report.direction}")
        if problems:
            raise ProtocolError(
                f"{self.transport.description}: status out of range for {profile.id}: " + ", ".join(problems)
            )

    # -- failure ---------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if not self._opened:
            raise ConfigError("the driver is not open; use 'async with driver:' first")
        if self._lost is not None:
            raise self._lost
        if self._closed:
            raise LinkLostError(f"{self.transport.description}: the driver is closed")

    @staticmethod
    def _fail_waiters(waiters: list[asyncio.Future[DeviceState]], error: DeviceError) -> None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)

    def _closed_error(self) -> LinkLostError:
        return self._lost or LinkLostError(f"{self.transport.description}: driver closed")

    def _failure(self, what: str, cause: Exception) -> LinkLostError:
        error = LinkLostError(f"{self.transport.description}: {what}: {cause!r}")
        error.__cause__ = cause
        return error

    def _link_lost(self, error: LinkLostError) -> None:
        if self._lost is not None:
            return
        logger.warning("%s: link lost: %s", self.transport.description, error)
        self._lost = error
        self._keepalive_on.clear()
        self._state = replace(self._state, connected=False)
        self._fail_all(error)
        self._end_streams()

    def _fail_all(self, error: DeviceError) -> None:
        for pending in self._pending:
            if not pending.reply.done():
                pending.reply.set_exception(error)
        # an acked command waiting for its status would otherwise wait out a whole timeout
        waiting, self._awaiting_status = self._awaiting_status, []
        for status in waiting:
            if not status.done():
                status.set_exception(error)
        for queued in self._queue.values():
            self._fail_waiters(queued.waiters, error)
        self._queue.clear()
        self._queue_values.clear()

    def _end_streams(self) -> None:
        for queue in self._subscribers:
            _offer(queue, _END)

    def _with_setting(self, state: DeviceState, key: str, value: int) -> DeviceState:
        profile = self.profile
        match key:
            case "intensity":
                return replace(state, intensity=value, motor=value > 0)
            case "head":
                head = profile.head_by_code(value)
                return replace(state, head=head.id if head else None)
            case "heat":
                return replace(state, heat=value)
            case "mode":
                return replace(state, mode=profile.modes[value])
            case _:
                return replace(state, direction=profile.directions[value])
