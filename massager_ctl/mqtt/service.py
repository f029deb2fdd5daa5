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
from massager_ctl.mqtt.commands import Command, CommandError, parse_command, result_payload
from massager_ctl.mqtt.discovery import discovery_payload
from massager_ctl.mqtt.link import Availability, MqttLink
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
    ) -> None:
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
        await self.link.open()
        self.publish_discovery()

    async def close(self) -> None:
        """Send what is held back, publish ``offline`` and disconnect. Safe to call twice."""
        for task in [*self._commands, *self._tasks]:
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
        if len(self._commands) >= COMMAND_LIMIT:
            self._answer(
                result_payload(
                    ok=False, action=None, request_id=None, message="busy: too many commands in progress"
                )
            )
            return
        # Tasks start in the order they are created: commands begin in the order they arrived.
        task = asyncio.create_task(self._answer_command(bytes(payload)), name="mqtt-command")
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def _answer_command(self, payload: bytes) -> None:
        self._answer(await self._run_command(payload))

    async def _run_command(self, payload: bytes) -> dict[str, object]:
        try:
            command = parse_command(payload)
        except CommandError as e:
            return result_payload(ok=False, action=e.action, request_id=e.request_id, message=str(e))
        if self._handler is None:
            return result_payload(
                ok=False,
                action=command.action,
                request_id=command.id,
                message="this controller takes no commands",
            )
        try:
            message = await self._handler.handle(command)
        except (CommandError, MassagerError) as e:
            return result_payload(
                ok=False, action=command.action, request_id=command.id, message=_one_line(e)
            )
        except Exception as e:  # a bug in one command must not end the command loop
            log.exception("command %s failed", command.action)
            return result_payload(
                ok=False,
                action=command.action,
                request_id=command.id,
                message=f"internal error: {_one_line(e)}",
            )
        return result_payload(ok=True, action=command.action, request_id=command.id, message=message)

    def _answer(self, body: dict[str, object]) -> None:
        self.commands_answered += 1
        self.link.send(self.topics.cmd_result, json.dumps(body, separators=(",", ":")))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
