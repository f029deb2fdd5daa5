"""Each device of a multi-device ``serve`` on the broker: its own topics, discovery and connection.

One broker connection per device, not one shared: MQTT gives a connection a single last will,
and each device's ``availability`` must turn ``offline`` by itself when the process dies
(``kill -9``, a power cut) — a shared connection could only will one topic, and Home Assistant
and ``fleet`` read availability per device. Separate connections also keep one device's
back-pressure (its bounded answer queue) from holding up another's commands. The cost is a TCP
connection and a keepalive per device, which a broker handles by the thousand.

Each device also keeps a retained ``controller`` topic, ``{"id": ...}``, naming the process
that serves it, so ``fleet`` can group devices by controller.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.models import DeviceProfile
from massager_ctl.mqtt.discovery import runnable_routines
from massager_ctl.mqtt.remote import service_status
from massager_ctl.mqtt.service import MqttStatus
from massager_ctl.mqtt.topics import make_topics
from massager_ctl.mqtt.url import BrokerConfig
from massager_ctl.orchestrator.controller import DeviceSpec, Front
from massager_ctl.orchestrator.service import DeviceService


def mqtt_front(
    *,
    broker: BrokerConfig,
    catalog: Catalog,
    caps: Caps,
    controller_id: str,
    prefix: str,
    discovery_prefix: str,
    discovery: bool = True,
) -> Front:
    """The front end that puts each device of a :class:`~massager_ctl.orchestrator.controller.Controller`
    on the broker.

    Raises (when entered):
        ConfigError: a bad prefix or device id.
        BrokerAuthError: the broker rejected the login.
        BrokerError: the broker could not be reached.
    """

    @contextlib.asynccontextmanager
    async def present(
        service: DeviceService, spec: DeviceSpec, profile: DeviceProfile
    ) -> AsyncIterator[MqttStatus]:
        topics = make_topics(prefix=prefix, device_id=spec.device_id, discovery_prefix=discovery_prefix)
        runnable = runnable_routines(catalog.routines().values(), profile, caps)
        async with service_status(
            service, broker=broker, topics=topics, discovery=discovery, routines=runnable, name=spec.name
        ) as status:
            status.link.set_retained(
                topics.controller, json.dumps({"id": controller_id}, separators=(",", ":"))
            )
            yield status

    return present
