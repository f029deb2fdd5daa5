"""The fleet view: every controller and device on a broker, read from their retained topics.

Each served device keeps retained snapshots under ``<prefix>/<device_id>/``: ``availability``
(``online``, or ``offline`` from a clean stop or the last will), ``state`` (its model among the
rest), ``session`` (status, step, remaining time) and ``controller`` (which ``serve`` process
keeps it). The Home Assistant discovery config adds the device's name where the login may read
it. :class:`Fleet` folds those messages into one row per device and does no I/O;
:func:`snapshot` and :func:`watch` subscribe to them and never publish anything.

A device that is not ``online`` shows no current status: what its ``session`` topic last said
is kept apart (``last_status``), because a controller that died cannot have updated it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import ssl
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import aiomqtt

from massager_ctl.errors import BrokerError
from massager_ctl.mqtt.link import _describe
from massager_ctl.mqtt.url import BrokerConfig

log = logging.getLogger(__name__)

#: The per-device topics the view reads (``<prefix>/+/<leaf>``).
LEAVES = ("availability", "state", "session", "controller")


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """What the broker says about one device."""

    device_id: str
    availability: str | None = None
    controller: str | None = None
    name: str | None = None
    model: str | None = None
    last_status: str | None = None
    routine: str | None = None
    step_index: int | None = None
    step_count: int | None = None
    step_title: str | None = None
    step_remaining_s: float | None = None
    session_remaining_s: float | None = None

    @property
    def online(self) -> bool:
        return self.availability == "online"

    @property
    def status(self) -> str | None:
        """The session status now, known only while the device's controller is online."""
        return self.last_status if self.online else None

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["status"] = self.status
        if not self.online:
            for key in ("step_index", "step_title", "step_remaining_s", "session_remaining_s"):
                body[key] = None
        return body


@dataclass(slots=True)
class Fleet:
    """Rows built from retained messages; :meth:`apply` one message at a time.

    Args:
        prefix: the devices' topic prefix.
        discovery_prefix: Home Assistant's discovery prefix (for device names).
    """

    prefix: str = "massager"
    discovery_prefix: str = "homeassistant"
    _rows: dict[str, DeviceRow] = field(default_factory=dict)
    # which leaves each device has: a row whose retained topics are all cleared goes away
    _seen: dict[str, set[str]] = field(default_factory=dict)

    @property
    def filters(self) -> list[str]:
        """The topic filters to subscribe to."""
        return [f"{self.prefix}/+/{leaf}" for leaf in LEAVES] + [f"{self.discovery_prefix}/device/+/config"]

    def rows(self) -> list[DeviceRow]:
        """Every device, by controller then device id (devices of no known controller last)."""
        return sorted(
            self._rows.values(), key=lambda r: (r.controller is None, r.controller or "", r.device_id)
        )

    def apply(self, topic: str, payload: bytes) -> bool:
        """Fold one message in; True if the view changed. Malformed payloads are ignored."""
        parsed = self._parse_topic(topic)
        if parsed is None:
            return False
        device_id, leaf = parsed
        before = self._rows.get(device_id)
        row = before or DeviceRow(device_id=device_id)
        seen = self._seen.setdefault(device_id, set())
        if not payload:  # a cleared retained topic
            seen.discard(leaf)
            row = replace(row, **_cleared(leaf))
        else:
            update = _fields(leaf, payload)
            if update is None:
                return False
            seen.add(leaf)
            row = replace(row, **update)
        if not seen:
            del self._seen[device_id]
            self._rows.pop(device_id, None)
            return before is not None
        self._rows[device_id] = row
        return row != before

    def to_json(self) -> dict[str, Any]:
        rows = self.rows()
        controllers: dict[str, list[str]] = {}
        for row in rows:
            if row.controller is not None:
                controllers.setdefault(row.controller, []).append(row.device_id)
        return {
            "controllers": [{"id": c, "devices": ids} for c, ids in controllers.items()],
            "devices": [row.to_json() for row in rows],
        }

    def _parse_topic(self, topic: str) -> tuple[str, str] | None:
        head = f"{self.prefix}/"
        if topic.startswith(head):
            device_id, _, leaf = topic[len(head) :].partition("/")
            return (device_id, leaf) if leaf in LEAVES and device_id else None
        discovery = f"{self.discovery_prefix}/device/"
        if topic.startswith(discovery) and topic.endswith("/config"):
            device_id = topic[len(discovery) : -len("/config")]
            return (device_id, "discovery") if device_id and "/" not in device_id else None
        return None


def _json(payload: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_SESSION_KEYS = ("last_status", "routine", "step_index", "step_count", "step_title")
_SESSION_TIMES = ("step_remaining_s", "session_remaining_s")


def _cleared(leaf: str) -> dict[str, Any]:
    match leaf:
        case "availability":
            return {"availability": None}
        case "controller":
            return {"controller": None}
        case "state":
            return {"model": None}
        case "session":
            return dict.fromkeys(_SESSION_KEYS + _SESSION_TIMES)
        case _:
            return {"name": None}


def _fields(leaf: str, payload: bytes) -> dict[str, Any] | None:
    if leaf == "availability":
        try:
            return {"availability": payload.decode().strip()}
        except UnicodeDecodeError:
            return None
    body = _json(payload)
    if body is None:
        return None
    match leaf:
        case "controller":
            return {"controller": _text(body, "id")}
        case "state":
            return {"model": _text(body, "model")}
        case "session":
            return {
                "last_status": _text(body, "status"),
                "routine": _text(body, "routine"),
                "step_index": _int(body, "step_index"),
                "step_count": _int(body, "step_count"),
                "step_title": _text(body, "step_title"),
                "step_remaining_s": _number(body, "step_remaining_s"),
                "session_remaining_s": _number(body, "session_remaining_s"),
            }
        case _:
            device = body.get("dev")
            return {"name": _text(device, "name") if isinstance(device, dict) else None}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return (
        f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
        if whole >= 3600
        else f"{whole // 60}:{whole % 60:02d}"
    )


def _step(row: DeviceRow) -> str:
    if not row.online or row.step_index is None:
        return ""
    count = f"/{row.step_count}" if row.step_count is not None else ""
    title = f" {row.step_title}" if row.step_title else ""
    return f"{row.step_index + 1}{count}{title}"


HEADERS = ("CONTROLLER", "DEVICE", "NAME", "MODEL", "AVAILABILITY", "STATUS", "STEP", "REMAINING")


def render_table(fleet: Fleet) -> str:
    """The fleet as a plain-text table, one device a line."""
    rows = fleet.rows()
    if not rows:
        return "no devices on the broker"
    cells = [
        (
            row.controller or "?",
            row.device_id,
            row.name or "",
            row.model or "",
            row.availability or "unknown",
            row.status or "",
            _step(row),
            _duration(row.session_remaining_s) if row.online else "",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [HEADERS, *cells]) for i in range(len(HEADERS))]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in [HEADERS, *cells]
    ]
    return "\n".join(lines)


async def _client(config: BrokerConfig) -> aiomqtt.Client:
    tls_context: ssl.SSLContext | None = None
    if config.tls:
        cafile = str(config.ca_file) if config.ca_file else None
        try:
            tls_context = await asyncio.to_thread(ssl.create_default_context, cafile=cafile)
        except (OSError, ssl.SSLError) as e:
            raise BrokerError(f"cannot load the CA file for {config.display}: {e}") from e
    # No will and nothing published: the view only subscribes.
    return aiomqtt.Client(
        config.host,
        config.port,
        username=config.username,
        password=config.password,
        identifier=f"massager-ctl-fleet-{secrets.token_hex(3)}",
        clean_session=True,
        timeout=10.0,
        tls_context=tls_context,
        socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
    )


def _payload(message: aiomqtt.Message) -> bytes:
    raw = message.payload
    if raw is None:
        return b""
    return raw if isinstance(raw, bytes | bytearray) else str(raw).encode()


async def snapshot(
    config: BrokerConfig,
    *,
    prefix: str = "massager",
    discovery_prefix: str = "homeassistant",
    settle_s: float = 1.0,
    quiet_s: float = 0.2,
) -> Fleet:
    """The fleet as the broker's retained messages tell it.

    Retained messages arrive right after the subscription: this collects them until none came
    for ``quiet_s`` (once the first one is in), or ``settle_s`` passed.

    Raises:
        BrokerError: the broker cannot be reached or refuses the login.
    """
    fleet = Fleet(prefix=prefix, discovery_prefix=discovery_prefix)
    client = await _client(config)
    loop = asyncio.get_running_loop()
    try:
        async with client:
            for topic_filter in fleet.filters:
                await client.subscribe(topic_filter, qos=0)
            deadline = loop.time() + settle_s
            got_any = False
            while (remaining := deadline - loop.time()) > 0:
                try:
                    async with asyncio.timeout(min(quiet_s, remaining) if got_any else remaining):
                        message = await anext(client.messages)
                except TimeoutError:
                    break
                got_any = True
                fleet.apply(str(message.topic), _payload(message))
    except aiomqtt.MqttError as e:
        raise _describe(e, config) from e
    return fleet


async def watch(
    config: BrokerConfig,
    *,
    on_change: Callable[[Fleet], None],
    prefix: str = "massager",
    discovery_prefix: str = "homeassistant",
    min_interval_s: float = 0.25,
    reconnect_s: float = 1.0,
) -> None:
    """Call ``on_change`` with the fleet whenever it changes (at most every ``min_interval_s``).

    Runs until cancelled. The first connection must succeed; after that a lost broker is
    retried every ``reconnect_s`` and the view starts over from the retained messages.

    Raises:
        BrokerError: the first connection cannot be made.
    """
    loop = asyncio.get_running_loop()
    connected_once = False
    while True:
        fleet = Fleet(prefix=prefix, discovery_prefix=discovery_prefix)
        client = await _client(config)
        try:
            async with client:
                for topic_filter in fleet.filters:
                    await client.subscribe(topic_filter, qos=0)
                connected_once = True
                on_change(fleet)
                last_drawn = loop.time()
                dirty = False
                while True:
                    timeout = max(0.0, last_drawn + min_interval_s - loop.time()) if dirty else None
                    try:
                        async with asyncio.timeout(timeout):
                            message = await anext(client.messages)
                    except TimeoutError:
                        on_change(fleet)
                        last_drawn, dirty = loop.time(), False
                        continue
                    dirty = fleet.apply(str(message.topic), _payload(message)) or dirty
        except aiomqtt.MqttError as e:
            error = _describe(e, config)
            if not connected_once:
                raise error from e
            log.warning("%s; reconnecting", error)
        await asyncio.sleep(reconnect_s)
