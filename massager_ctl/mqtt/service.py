"""One device on the broker: the link, the status publisher, discovery, and commands to a target.

:class:`MqttStatus` is what ``run --mqtt`` and ``serve`` use::

    async with MqttStatus(config, topics=topics, profile=profile, commands=target) as mqtt:
        mqtt.follow(bus)          # publish the session's (or the service's) events
        ...

It is a thin adapter: each ``cmd`` message is decoded into a command model (or
its parse error) and handed to the command target (a
:class:`~massager_ctl.orchestrator.service.DeviceService`, or a
:class:`~massager_ctl.orchestrator.gate.CommandGate` over one session), which
decides on it at once and answers it once; the answer goes to ``cmd/result``.
An answer that is ready at once (busy, malformed) is sent by the reader itself;
the others wait for room in the link's bounded queue rather than push older ones
out. Admission control, the stop that is never refused, and every command's one
answer are the target's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any, Self

import aiomqtt

from massager_ctl.drivers.base import Identity
from massager_ctl.events import EventBus, Subscription
from massager_ctl.models import DeviceProfile
from massager_ctl.mqtt.discovery import discovery_payload
from massager_ctl.mqtt.link import Availability, MqttLink
from massager_ctl.mqtt.status import StatusPublisher
from massager_ctl.mqtt.topics import Topics
from massager_ctl.mqtt.url import BrokerConfig
from massager_ctl.orchestrator.commands import Answer, Command, CommandError, parse_command
from massager_ctl.orchestrator.gate import CommandTarget
from massager_ctl.orchestrator.service_events import DeviceUpdate, ServiceIdle
from massager_ctl.retry import Backoff
from massager_ctl.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class MqttStatus:
    """A device's presence on the broker for as long as the ``async with`` lasts.

    Args:
        config: the broker.
        topics: the device's topics.
        profile: the device's model.
        commands: takes ``cmd`` commands; without one, commands are answered with an error.
        discovery: publish the Home Assistant discovery config (and again on HA's birth message).
        routines: ``(id, title)`` pairs offered by the Home Assistant routine select.
        identity: what the device reported (firmware and serial go into discovery).
        name: the device name shown in Home Assistant (default: the model's name).
        progress_interval_s: the least time between two progress updates of ``session``.
        states_from_events: publish ``state`` from the session's events (``run``); ``serve``'s
            service reports the driver's own.
        backoff: reconnect delays.
    """

    def __init__(
        self,
        config: BrokerConfig,
        *,
        topics: Topics,
        profile: DeviceProfile,
        commands: CommandTarget | None = None,
        discovery: bool = True,
        routines: Sequence[tuple[str, str]] = (),
        identity: Identity | None = None,
        name: str | None = None,
        progress_interval_s: float = 1.0,
        states_from_events: bool = True,
        backoff: Backoff | None = None,
    ) -> None:
        self._states_from_events = states_from_events
        self.topics = topics
        self._profile = profile
        self._commands = commands
        self._discovery = discovery
        self._routines = list(routines)
        self._identity = identity
        self._name = name
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
        self._answers: set[asyncio.Task[None]] = set()
        self._followed: list[Subscription] = []
        self._publisher: StatusPublisher | None = None

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
        for task in [*self._answers, *self._tasks]:
            await cancel_and_wait(task)
        if self._publisher is not None:
            self._publisher.close()
        await self.link.close()

    def follow(self, source: EventBus | Subscription, *, maxsize: int = 256) -> None:
        """Publish every event of a bus (from now on) or of a subscription, until it ends or :meth:`drain`.

        A device service's own events become the retained ``state`` (and discovery, when the
        device's identity changes) and the idle ``session``; a session's go to ``events`` and
        ``session`` as they do.
        """
        subscription = (
            source.subscribe(maxsize=maxsize, name="mqtt") if isinstance(source, EventBus) else source
        )
        self._followed.append(subscription)
        self._start(self._publish_all(subscription), "mqtt-follow")

    async def _publish_all(self, subscription: Subscription) -> None:
        # While the link's queue is full this waits, so events back up in the subscription's own
        # bounded buffer (which coalesces snapshots) instead of being dropped by the link.
        async for event in subscription:
            await self.link.wait_for_room()
            match event:
                case DeviceUpdate():
                    if event.identity is not None:
                        self.set_identity(event.identity)
                    self.publisher.device_state(event.state)
                case ServiceIdle():
                    self.publisher.idle(routine=event.routine)
                case _:
                    self.publisher.event(event)

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
            name=self._name,
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
        if self._commands is None:
            self._answer(Answer.to(command, ok=False, message="this controller takes no commands"))
            return
        answer = self._commands.submit(command)
        if answer.done():
            self._answer(answer.result())  # the reader only reads once the link has room for this
            return
        task = asyncio.create_task(self._answer_when_done(answer), name="mqtt-answer")
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer_when_done(self, answer: asyncio.Future[Answer]) -> None:
        # Shielded: leaving the broker must not cancel a command the target carries out for others too.
        result = await asyncio.shield(answer)
        await self.link.wait_for_room()
        self._answer(result)

    def _answer(self, answer: Answer) -> None:
        """Publish one answer; the caller made sure the link has room (the reader, or wait_for_room)."""
        self.link.send(self.topics.cmd_result, json.dumps(answer.to_json(), separators=(",", ":")))
