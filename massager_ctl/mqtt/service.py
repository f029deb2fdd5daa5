"""One device on the broker: the link, the status publisher, discovery and the command queue.

:class:`MqttStatus` is what ``run --mqtt`` and ``serve`` use::

    async with MqttStatus(config, topics=topics, profile=profile, handler=handler) as mqtt:
        mqtt.follow(bus)          # publish the session's events
        ...

Each command is carried out as its own task, started in the order the commands
arrive, and answered once on ``cmd/result`` when it is done: a command that
waits on the device (a head change, a stop while idle) does not hold up the
ones after it, so a ``stop`` is answered at once whatever is in flight. The
handler keeps device commands that must not overlap in order. Whatever a
command does wrong (bad JSON, unknown action, out of range, refused by the
handler) becomes an error answer and nothing else.

Every command is answered exactly once. Admission control comes before any
work: a command over its client's rate or the shared one (see
:mod:`~massager_ctl.mqtt.ratelimit`), or beyond :data:`COMMAND_LIMIT` in
progress, is answered "busy" (``"busy": true``) at once. A ``stop`` is never
refused: it skips both limits, and one that comes while another stop is still
making the device safe shares that stop's outcome. Answers wait for room in the
link's bounded queue rather than push older ones out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

import aiomqtt

from massager_ctl.drivers.base import Identity
from massager_ctl.errors import MassagerError
from massager_ctl.events import EventBus, Subscription
from massager_ctl.models import DeviceProfile
from massager_ctl.mqtt.commands import Command, CommandError, Stop, parse_command, result_payload
from massager_ctl.mqtt.discovery import discovery_payload
from massager_ctl.mqtt.link import Availability, MqttLink
from massager_ctl.mqtt.ratelimit import RateLimiter
from massager_ctl.mqtt.status import StatusPublisher
from massager_ctl.mqtt.tasks import cancel_and_wait
from massager_ctl.mqtt.topics import Topics
from massager_ctl.mqtt.url import BrokerConfig
from massager_ctl.retry import Backoff

log = logging.getLogger(__name__)

#: Commands in progress beyond this are answered "busy" at once instead of started.
COMMAND_LIMIT = 256


class CommandHandler(Protocol):
    """Carries out a validated command; returns a short confirmation for ``cmd/result``.

    Calls overlap: the next command starts while one awaits the device.
    """

    async def handle(self, command: Command) -> str:
        """Carry out one command.

        Raises:
            CommandError: the command does not apply now (a clear one-line reason).
            MassagerError: the device or the session refused it.
        """
        ...


class MqttStatus:
    """A device's presence on the broker for as long as the ``async with`` lasts.

    Args:
        config: the broker.
        topics: the device's topics.
        profile: the device's model.
        handler: carries out ``cmd`` commands; without one, commands are answered with an error.
        discovery: publish the Home Assistant discovery config (and again on HA's birth message).
        routines: ``(id, title)`` pairs offered by the Home Assistant routine select.
        identity: what the device reported (firmware and serial go into discovery).
        progress_interval_s: the least time between two progress updates of ``session``.
        states_from_events: publish ``state`` from the bus (``run``); ``serve`` feeds the driver's own.
        backoff: reconnect delays.
        limiter: admission control for commands (default: :class:`RateLimiter` with its default rates).
    """

    def __init__(
        self,
        config: BrokerConfig,
        *,
        topics: Topics,
        profile: DeviceProfile,
        handler: CommandHandler | None = None,
        discovery: bool = True,
        routines: Sequence[tuple[str, str]] = (),
        identity: Identity | None = None,
        progress_interval_s: float = 1.0,
        states_from_events: bool = True,
        backoff: Backoff | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._limiter = limiter
        self._states_from_events = states_from_events
        self.topics = topics
        self._profile = profile
        self._handler = handler
        self._discovery = discovery
        self._routines = list(routines)
        self._identity = identity
        self._progress_interval_s = progress_interval_s
        subscriptions = [topics.cmd]
        if discovery:
            subscriptions.append(topics.ha_status)
        self.link = MqttLink(
            config,
            client_id=f"massager-ctl-{topics.device_id}-{secrets.token_hex(3)}",
            availability=Availability(topics.availability),
            subscriptions=subscriptions,
            on_message=self._on_message,
            backoff=backoff,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._commands: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Task[dict[str, object]] | None = None
        self._stops: set[asyncio.Task[dict[str, object]]] = set()
        # Bumped by every other command let in: a stop shares an earlier one's outcome only if
        # nothing (a start, say) came between them.
        self._since_stop = 0
        self._followed: list[Subscription] = []
        self._publisher: StatusPublisher | None = None
        self.commands_answered = 0

    @property
    def publisher(self) -> StatusPublisher:
        if self._publisher is None:
            raise RuntimeError("MqttStatus is not open")
        return self._publisher

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect and announce the device.

        Raises:
            BrokerAuthError: the broker rejected the login.
            BrokerError: the broker could not be reached.
        """
        self._publisher = StatusPublisher(
            self.link,
            self.topics,
            self._profile,
            min_interval_s=self._progress_interval_s,
            states_from_events=self._states_from_events,
        )
        if self._limiter is None:
            self._limiter = RateLimiter(clock=asyncio.get_running_loop().time)
        await self.link.open()
        self.publish_discovery()

    async def close(self) -> None:
        """Send what is held back, publish ``offline`` and disconnect. Safe to call twice."""
        for task in [*self._commands, *self._stops, *self._tasks]:
            await cancel_and_wait(task)
        if self._publisher is not None:
            self._publisher.close()
        await self.link.close()

    def follow(self, source: EventBus | Subscription, *, maxsize: int = 256) -> None:
        """Publish every event of a bus (from now on) or of a subscription, until it ends or :meth:`drain`."""
        subscription = (
            source.subscribe(maxsize=maxsize, name="mqtt") if isinstance(source, EventBus) else source
        )
        self._followed.append(subscription)
        self._start(self.publisher.follow(subscription), "mqtt-follow")

    async def drain(self, *, timeout_s: float = 2.0) -> None:
        """Stop following; publish what was buffered or held back; wait up to ``timeout_s`` for it."""
        followed, self._followed = self._followed, []
        for subscription in followed:
            subscription.close()  # iteration still yields what is already buffered
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                for task in [t for t in self._tasks if t.get_name() == "mqtt-follow"]:
                    await asyncio.shield(task)
                self.publisher.close()
                if self.link.connected:
                    await self.link.flush()

    def set_identity(self, identity: Identity) -> None:
        """Record what the device reported and announce it again if it changed."""
        if identity != self._identity:
            self._identity = identity
            self.publish_discovery()

    def publish_discovery(self) -> None:
        if not self._discovery:
            return
        payload = discovery_payload(
            self.topics,
            self._profile,
            routines=self._routines,
            firmware=self._identity.firmware if self._identity else None,
            serial=self._identity.serial if self._identity else None,
        )
        self.link.set_retained(self.topics.discovery, json.dumps(payload, separators=(",", ":")))

    def _start(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_message(self, message: aiomqtt.Message) -> None:
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        if message.topic.matches(self.topics.ha_status):
            if bytes(payload) == b"online":
                log.info("Home Assistant came online; announcing the device again")
                self.publish_discovery()
            return
        try:
            command: Command | CommandError = parse_command(bytes(payload))
        except CommandError as e:
            command = e
        if not isinstance(command, Stop) and (busy := self._admit(command)) is not None:
            self._answer(busy)
            return
        if isinstance(command, CommandError):
            self._answer(
                result_payload(
                    ok=False,
                    action=command.action,
                    request_id=command.request_id,
                    client=command.client,
                    message=str(command),
                )
            )
            return
        # Tasks start in the order they are created: commands begin in the order they arrived.
        if isinstance(command, Stop):
            stop: asyncio.Task[dict[str, object]] | None = self._stop_for(command)
        else:
            self._since_stop += 1
            stop = None
        task = asyncio.create_task(self._answer_command(command, stop), name="mqtt-command")
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    def _admit(self, command: Command | CommandError) -> dict[str, object] | None:
        """``None`` if the command may go ahead, else its "busy" answer."""
        if isinstance(command, CommandError):
            action, request_id, client = command.action, command.request_id, command.client
        else:
            action, request_id, client = command.action, command.id, command.client
        assert self._limiter is not None  # set by open()
        if not self._limiter.admit(client):
            reason = "busy: too many commands; send it again in a moment"
        elif len(self._commands) >= COMMAND_LIMIT:
            reason = "busy: too many commands in progress; send it again in a moment"
        else:
            return None
        return result_payload(
            ok=False, action=action, request_id=request_id, client=client, message=reason, busy=True
        )

    def _stop_for(self, command: Stop) -> asyncio.Task[dict[str, object]]:
        """The stop that carries out ``command``: a new one, or the one still in progress.

        Stops are never refused, so a flood of them must not each start a device round trip; but a
        stop after any other command (a start, say) is a stop of its own. Decided on arrival, in order.
        """
        if self._stopping is None or self._stopping.done() or self._since_stop:
            self._stopping = asyncio.create_task(self._run_command(command), name="mqtt-stop")
            self._stops.add(self._stopping)
            self._stopping.add_done_callback(self._stops.discard)
            self._since_stop = 0
        return self._stopping

    async def _answer_command(self, command: Command, stop: asyncio.Task[dict[str, object]] | None) -> None:
        if stop is None:
            body = await self._run_command(command)
        else:
            # Shielded: other stops may share it. Each is answered under its own id.
            body = dict(await asyncio.shield(stop))
            body["id"] = command.id
            if command.client is None:
                body.pop("client", None)
            else:
                body["client"] = command.client
        await self.link.wait_for_room()
        self._answer(body)

    async def _run_command(self, command: Command) -> dict[str, object]:
        def answer(*, ok: bool, message: str) -> dict[str, object]:
            return result_payload(
                ok=ok, action=command.action, request_id=command.id, client=command.client, message=message
            )

        if self._handler is None:
            return answer(ok=False, message="this controller takes no commands")
        try:
            message = await self._handler.handle(command)
        except (CommandError, MassagerError) as e:
            return answer(ok=False, message=_one_line(e))
        except Exception as e:  # a bug in one command must not end the command loop
            log.exception("command %s failed", command.action)
            return answer(ok=False, message=f"internal error: {_one_line(e)}")
        return answer(ok=True, message=message)

    def _answer(self, body: dict[str, object]) -> None:
        """Publish one answer; the caller made sure the link has room (the reader, or wait_for_room)."""
        self.commands_answered += 1
        self.link.send(self.topics.cmd_result, json.dumps(body, separators=(",", ":")))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
