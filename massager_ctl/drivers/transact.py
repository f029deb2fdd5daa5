"""One command on the wire: sequence numbers, replies in flight, retries, the reader and link loss.

:class:`Link` is the transport side of :class:`~massager_ctl.drivers.massager.MassagerDriver`: it
sends a command through the protocol adaptor (the codec) and waits for the reply that answers it
(and the status that follows an ack), reads and routes every frame, keeps the reported state, and
fails everyone waiting when the link is lost. The lanes and control strategies use it; it knows
nothing of them, except that it tells the callbacks given to :meth:`Link.on_lost` when it dies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from massager_ctl.drivers.base import DeviceState, Identity
from massager_ctl.drivers.families import ANY_COMMAND, Family, KeyPress, StepKey, TimerKey, ToggleKey
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
    Report,
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    StatusReport,
    Stop,
)
from massager_ctl.transports.base import Transport

logger = logging.getLogger(__name__)

# Naks that mean the frame was damaged on the way, not that the device refused: send it again.
_DAMAGED = frozenset({"bad_checksum", "bad_length", "syntax", "bad_sync"})
END = None
"""The end-of-stream marker in a ``states()`` queue."""

#: States kept for a ``states()`` reader that falls behind; older ones are dropped (latest wins).
STATES_BACKLOG = 16


def fail_waiters(waiters: list[asyncio.Future[DeviceState]], error: DeviceError) -> None:
    """Fail every waiter not yet answered."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_exception(error)


def offer(queue: asyncio.Queue[DeviceState | None], item: DeviceState | None) -> None:
    """Queue ``item``, dropping the oldest entry when a slow reader has let the queue fill up."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


class Superseded(Exception):
    """A command in flight was called off before its next attempt.

    A setting overtaken by stop (its waiters get the state after the stop), or a ping whose keepalive
    was turned off.
    """


@dataclass(slots=True)
class Pending:
    """A command in flight: the reply future, and the status that follows its ack."""

    key: int | str
    reply: asyncio.Future[Report]
    status: asyncio.Future[StatusReport] | None


class Link:
    """Commands and replies over one transport, in one protocol family's wire form.

    Args:
        profile: the model's catalog entry (ranges a status is checked against).
        transport: the unopened link; the driver opens and closes it.
        codec: the protocol adaptor that frames, encodes, decodes and matches replies.
        ack_timeout_s: how long one attempt waits for its answer.
        retries: further attempts after the first.
    """

    def __init__(
        self,
        profile: DeviceProfile,
        transport: Transport,
        codec: Family,
        *,
        ack_timeout_s: float,
        retries: int,
    ) -> None:
        self.profile = profile
        self.transport = transport
        self.codec = codec
        self.ack_timeout_s = max(ack_timeout_s, codec.min_ack_timeout_s)
        self.retries = retries
        self.opened = False
        self.closed = False
        self.last_sent_at = -float("inf")
        self._pending: list[Pending] = []
        self._awaiting_status: list[asyncio.Future[StatusReport]] = []
        self._subscribers: list[asyncio.Queue[DeviceState | None]] = []
        self._on_lost: list[Callable[[LinkLostError], None]] = []
        self._state = DeviceState()
        self._seq = 0
        self._lost: LinkLostError | None = None

    @property
    def state(self) -> DeviceState:
        """The last reported state (``stale`` once a report waited for is overdue)."""
        return self._state

    @property
    def lost(self) -> LinkLostError | None:
        """Why the link was lost, or ``None`` while it is up."""
        return self._lost

    def on_lost(self, callback: Callable[[LinkLostError], None]) -> None:
        """Call ``callback`` once, with the error, when the link is lost."""
        self._on_lost.append(callback)

    def subscribe(self) -> asyncio.Queue[DeviceState | None]:
        """A queue that gets each state change, then :data:`END` when the link ends."""
        queue: asyncio.Queue[DeviceState | None] = asyncio.Queue(maxsize=STATES_BACKLOG)
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[DeviceState | None]) -> None:
        self._subscribers.remove(queue)

    def disconnected(self) -> None:
        """The transport is closed: the state says so."""
        self._state = replace(self._state, connected=False)

    # -- one command on the wire -----------------------------------------------------------

    async def identify(self) -> Identity:
        """Ask the device who it is (a device that cannot say is taken for the catalog's model).

        Raises:
            ProtocolError: the device is another model.
            CommandTimeoutError, LinkLostError: as for any command.
        """
        if not self.codec.identifies:
            return Identity(self.profile.id, self.profile.protocol.model_code, "unknown", "")
        report = await self.transact(lambda seq: Hello(seq=seq))
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

    async def transact(
        self, build: Callable[[int], Command | KeyPress], *, abort: Callable[[], bool] | None = None
    ) -> Report:
        """Send a command, retrying with the same frame until it is answered.

        Returns the ack, identity or status that answers it (after the status that follows
        the ack of a state-changing command, when one comes).

        Raises:
            CommandTimeoutError, DeviceRefusedError, LinkLostError; ``Superseded`` when ``abort``.
        """
        self.check_usable()
        command = build(self._next_seq() if self.codec.uses_seq else 0)
        held = self.codec.held(command)
        if held is not None:
            self._answer_locally(held)
            return held
        # no frame at all: the device reports unasked, and its next report is the answer
        frames: list[bytes | None] = [*self.codec.frames(command)] or [None]
        key = self.codec.request_key(command)
        changes_state = isinstance(
            command,
            SetIntensity | SetHead | SetHeat | SetMode | SetDirection | Stop | StepKey | ToggleKey | TimerKey,
        )
        for attempt in range(self.retries + 1):
            if abort is not None and abort():
                raise Superseded
            if attempt and not self.codec.resend_on_timeout:
                held = self.codec.held(command)
                if held is not None:
                    self._answer_locally(held)
                    return held
                frames = [*self.codec.frames(command)] or [None]
                key = self.codec.request_key(command)
            try:
                reply, status = await self._exchange(frames, key, changes_state)
            except TimeoutError:
                quiet = self.codec.silence(command) if frames == [None] else None
                if quiet is not None:
                    self._answer_locally(quiet)
                    return quiet
                logger.info(
                    "%s: no answer to %s (attempt %d)", self.transport.description, command, attempt + 1
                )
                continue
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
            if isinstance(reply, Ack) and status is not None:
                await self._confirm_after_ack(command, status)
            return reply
        if changes_state:
            # the device may have applied it and only its answers were lost
            self.mark_stale()
        raise CommandTimeoutError(
            f"{self.transport.description}: no answer to {command.name} after {self.retries + 1} attempts"
        )

    def _answer_locally(self, report: Report) -> None:
        """A report the family made up from what the device last said (see :meth:`Family.held`)."""
        if isinstance(report, StatusReport):
            self._on_status(report)

    async def send_only(self, command: Command | KeyPress) -> None:
        """Send a command to a device that answers nothing (open loop): no reply is waited for.

        Raises:
            LinkLostError: the link is down or dropped while sending.
        """
        self.check_usable()
        try:
            for frame in self.codec.frames(command):
                await self.transport.send(frame)
        except LinkLostError as e:
            self.link_lost(e)
            raise
        self.last_sent_at = asyncio.get_running_loop().time()

    def assume(self, state: DeviceState) -> None:
        """Open loop: show ``state`` — what the commands sent should have produced — as assumed."""
        assumed = replace(state, connected=True, stale=False, assumed=True)
        if assumed != self._state:
            self._state = assumed
            self._publish()

    async def _exchange(
        self, frames: list[bytes | None], key: int | str, changes_state: bool
    ) -> tuple[Report, asyncio.Future[StatusReport] | None]:
        """Send each frame (``None``: send nothing) and wait for its reply; the last reply is the answer.

        A Nak ends it early. Returns the answer and, for a state-changing command, the status that
        follows its ack (see :meth:`_confirm_after_ack`).

        Raises:
            TimeoutError: a frame went unanswered for the ack timeout.
            LinkLostError: the link dropped.
        """
        loop = asyncio.get_running_loop()
        reply: Report | None = None
        status: asyncio.Future[StatusReport] | None = None
        for index, frame in enumerate(frames):
            if frame is not None and index < len(frames) - 1 and not self.codec.answers_each_frame:
                # a device that answers only the last frame (a set, then a status request)
                try:
                    await self.transport.send(frame)
                except LinkLostError as e:
                    self.link_lost(e)
                    raise
                continue
            pending = Pending(key, loop.create_future(), loop.create_future() if changes_state else None)
            self._pending.append(pending)
            try:
                if frame is not None:
                    await self.transport.send(frame)
                    self.last_sent_at = loop.time()
                async with asyncio.timeout(self.ack_timeout_s):
                    reply = await pending.reply
            except LinkLostError as e:
                # the error reaches the caller from here: its reply must not be failed (and left unread)
                self._pending.remove(pending)
                self.link_lost(e)
                raise
            finally:
                if pending in self._pending:
                    self._pending.remove(pending)
            status = pending.status
            if isinstance(reply, Nak):
                break
        assert reply is not None
        return reply, status

    async def _confirm_after_ack(
        self, command: Command | KeyPress, status: asyncio.Future[StatusReport]
    ) -> None:
        """Wait for the status that follows an ack; if it was lost on the way, ask for one.

        From the moment that status is overdue the state is stale: the device acked a change
        it has not reported, so the last report no longer says what it does.
        """
        try:
            async with asyncio.timeout(self.ack_timeout_s):
                await status
            return
        except TimeoutError:
            self.mark_stale()
            logger.info("%s: no status after the ack of %s; asking", self.transport.description, command)
        try:
            await self.transact(lambda seq: GetStatus(seq=seq))
        except (CommandTimeoutError, ProtocolError) as e:
            # the command itself was acked; the state stays stale until the device reports
            logger.warning(
                "%s: state after %s not confirmed; unknown until the device reports: %s",
                self.transport.description,
                command,
                e,
            )

    # -- the reader --------------------------------------------------------------------------

    async def read_loop(self) -> None:
        try:
            await self._read_frames()
        except Exception as e:
            # without the reader every command would time out one by one: fail them all now
            self.link_lost(self.failure("the reader failed", e))

    async def _read_frames(self) -> None:
        framer = self.codec.framer(message_oriented=self.transport.message_oriented)
        while True:
            try:
                chunk = await self.transport.recv()
            except LinkLostError as e:
                self.link_lost(e)
                return
            for data in framer.feed(chunk):
                try:
                    message = self.codec.decode(data)
                    if message is not None:  # a frame the family counts but never uses
                        self._dispatch(message)
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
        key = self.codec.reply_key(message)
        for pending in self._pending:
            if pending.reply.done():
                continue
            if self.codec.answers(message, pending.key) or (key == ANY_COMMAND and isinstance(message, Nak)):
                pending.reply.set_result(message)
                if pending.status is not None and isinstance(message, Ack):
                    self._awaiting_status.append(pending.status)
                if not isinstance(message, StatusReport):
                    return  # an ack answers one command; a status answers everyone it satisfies
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
            temperature_c=report.temperature_c if self.codec.reports_temperature else None,
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
            self._publish()

    def mark_stale(self) -> None:
        """The device may have changed since its last report: say so until it reports again."""
        if self._state.stale or not self._state.connected:
            return
        self._state = replace(self._state, stale=True)
        self._publish()

    def _publish(self) -> None:
        for queue in self._subscribers:
            offer(queue, self._state)

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

    def check_usable(self) -> None:
        if not self.opened:
            raise ConfigError("the driver is not open; use 'async with driver:' first")
        if self._lost is not None:
            raise self._lost
        if self.closed:
            raise LinkLostError(f"{self.transport.description}: the driver is closed")

    def closed_error(self) -> LinkLostError:
        return self._lost or LinkLostError(f"{self.transport.description}: driver closed")

    def failure(self, what: str, cause: Exception) -> LinkLostError:
        error = LinkLostError(f"{self.transport.description}: {what}: {cause!r}")
        error.__cause__ = cause
        return error

    def link_lost(self, error: LinkLostError) -> None:
        if self._lost is not None:
            return
        logger.warning("%s: link lost: %s", self.transport.description, error)
        self._lost = error
        self._state = replace(self._state, connected=False)
        self.fail_all(error)
        for callback in self._on_lost:
            callback(error)
        self.end_streams()

    def fail_all(self, error: DeviceError) -> None:
        for pending in self._pending:
            if not pending.reply.done():
                pending.reply.set_exception(error)
        # an acked command waiting for its status would otherwise wait out a whole timeout
        waiting, self._awaiting_status = self._awaiting_status, []
        for status in waiting:
            if not status.done():
                status.set_exception(error)

    def end_streams(self) -> None:
        for queue in self._subscribers:
            offer(queue, END)
