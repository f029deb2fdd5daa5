"""MQTT as a front end: ``serve``'s device service, and ``run --mqtt``'s one session, on the broker.

Both are thin: commands from ``cmd`` go to a command target (the service, or a
:class:`~massager_ctl.orchestrator.gate.CommandGate` over the session's controls)
and its answers to ``cmd/result``; the retained ``state`` and ``session`` and the
``events`` stream come from the target's event bus.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from massager_ctl.mqtt.service import MqttStatus
from massager_ctl.mqtt.topics import (
    DEFAULT_DISCOVERY_PREFIX,
    DEFAULT_PREFIX,
    Topics,
    device_id_from_url,
    make_topics,
)
from massager_ctl.mqtt.url import BrokerConfig
from massager_ctl.orchestrator import Session
from massager_ctl.orchestrator.gate import CommandGate
from massager_ctl.orchestrator.service import DeviceService
from massager_ctl.orchestrator.session_commands import SessionCommands
from massager_ctl.retry import Backoff

#: Why a session stopped by an MQTT command ended.
MQTT_STOP_REASON = "stopped over MQTT"


@contextlib.asynccontextmanager
async def service_status(
    service: DeviceService,
    *,
    broker: BrokerConfig,
    topics: Topics,
    discovery: bool = True,
    routines: Sequence[tuple[str, str]] = (),
    backoff: Backoff | None = None,
    name: str | None = None,
) -> AsyncIterator[MqttStatus]:
    """Put ``service`` on the broker (``serve``): its commands from ``cmd``, everything it says published.

    Subscribes to the service's bus before connecting, so enter it before
    ``service.run()`` starts to publish everything; on exit what is buffered is
    published, then ``offline``::

        async with service_status(service, broker=broker, topics=topics):
            await service.run(stop)

    Raises:
        BrokerAuthError: the broker rejected the login.
        BrokerError: the broker could not be reached.
    """
    subscription = service.bus.subscribe(maxsize=1024, name="mqtt")
    try:
        async with MqttStatus(
            broker,
            topics=topics,
            profile=service.profile,
            commands=service,
            discovery=discovery,
            routines=routines,
            states_from_events=False,
            backoff=backoff,
            name=name,
        ) as mqtt:
            mqtt.follow(subscription)
            try:
                yield mqtt
            finally:
                await mqtt.drain()
    finally:
        subscription.close()


@contextlib.asynccontextmanager
async def session_status(
    session: Session,
    *,
    broker: BrokerConfig,
    prefix: str = DEFAULT_PREFIX,
    device_id: str | None = None,
    discovery: bool = True,
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX,
    backoff: Backoff | None = None,
) -> AsyncIterator[MqttStatus]:
    """Publish one session (``run --mqtt``) and take its controls from ``cmd``.

    Connects before it yields, so a bad login fails before the session starts; on
    exit the last events are flushed and ``offline`` is published::

        async with session_status(session, broker=parse_broker_url(url)):
            result = await session.run()

    Raises:
        ConfigError: a bad prefix or device id.
        BrokerAuthError: the broker rejected the login.
        BrokerError: the broker could not be reached.
    """
    profile = session.plan.profile
    topics = make_topics(
        prefix=prefix,
        device_id=device_id or device_id_from_url(session.device_url, profile.id),
        discovery_prefix=discovery_prefix,
    )
    routine = session.plan.routine
    gate = CommandGate(SessionCommands(session, stop_reason=MQTT_STOP_REASON))
    # Subscribe before connecting: nothing the session emits meanwhile is lost.
    subscription = session.bus.subscribe(maxsize=1024, name="mqtt")
    try:
        async with MqttStatus(
            broker,
            topics=topics,
            profile=profile,
            commands=gate,
            discovery=discovery,
            routines=[(routine.id, routine.title)],
            backoff=backoff,
        ) as mqtt:
            mqtt.publisher.idle(routine=routine.id)
            mqtt.follow(subscription)
            try:
                yield mqtt
            finally:
                await mqtt.drain()
                await gate.close()
    finally:
        subscription.close()
