"""MQTT: session status, availability, Home Assistant discovery and remote commands.

Topics live under ``<prefix>/<device_id>/``: ``availability`` (retained
``online``/``offline``, also the will), ``state`` and ``session`` (retained
JSON snapshots), ``events`` (the event stream), ``cmd`` (JSON commands) and
``cmd/result`` (their answers). The commands, their answers and the ``serve``
engine are the orchestrator's (:mod:`massager_ctl.orchestrator.service`); this
package only carries them. Home Assistant finds the device through one
retained device-based discovery config on ``homeassistant/device/<id>/config``.
"""

from massager_ctl.mqtt.discovery import discovery_payload
from massager_ctl.mqtt.link import Availability, MqttLink
from massager_ctl.mqtt.payloads import SessionPayload, state_payload
from massager_ctl.mqtt.remote import service_status, session_status
from massager_ctl.mqtt.service import MqttStatus
from massager_ctl.mqtt.status import StatusPublisher
from massager_ctl.mqtt.topics import DEFAULT_PREFIX, Topics, device_id_for, device_id_from_url, make_topics
from massager_ctl.mqtt.url import BrokerConfig, parse_broker_url
from massager_ctl.retry import Backoff

__all__ = [
    "DEFAULT_PREFIX",
    "Availability",
    "Backoff",
    "BrokerConfig",
    "MqttLink",
    "MqttStatus",
    "SessionPayload",
    "StatusPublisher",
    "Topics",
    "device_id_for",
    "device_id_from_url",
    "discovery_payload",
    "make_topics",
    "parse_broker_url",
    "service_status",
    "session_status",
    "state_payload",
]
