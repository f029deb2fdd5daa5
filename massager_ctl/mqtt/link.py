"""A broker connection that keeps itself up and never makes its callers wait.

:class:`MqttLink` wraps one reusable ``aiomqtt.Client``. Callers hand it
messages with plain (non-async) calls: :meth:`~MqttLink.set_retained` keeps the
latest payload per topic (re-sent after every reconnect, so snapshots come back
instead of a replay), :meth:`~MqttLink.send` queues a one-off message (dropped
while the broker is away). A background task owns the connection: it connects,
subscribes, runs a reader and a writer in a ``TaskGroup``, and reconnects when
the broker goes away: promptly (at most ``outage_backoff.max_s`` apart) while it
cannot be reached, so retained state is back soon after a broker restart, and with
a growing backoff while it answers but refuses the connection.

One-off messages (command answers, events) are never dropped to make room: the
queue is bounded by back-pressure instead. While it is full, :meth:`~MqttLink.wait_for_room`
holds senders back and the reader takes no new message, so each message received
(whose answer is one one-off message) finds room for that answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode

from massager_ctl.errors import BrokerAuthError, BrokerError
from massager_ctl.mqtt.url import BrokerConfig
from massager_ctl.retry import Backoff
from massager_ctl.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: One-off messages published at once, waiting for their acks together (paho keeps them in order).
_WRITE_BATCH = 64
# CONNACK codes for a refused login: MQTT 3.1.1 (4, 5) and as paho maps them to MQTT 5 reason codes.
_AUTH_CODES = frozenset({4, 5, 134, 135})


@dataclass(frozen=True, slots=True)
class Availability:
    """The availability topic: ``online`` after each connect, ``offline`` as the will and on close."""

    topic: str
    online: str = "online"
    offline: str = "offline"


#: Delays while the broker answers but refuses the connection (CONNACK with an error).
REFUSED_BACKOFF = Backoff(initial_s=0.5, max_s=30.0, jitter=0.2)
#: Delays while the broker cannot be reached (connection refused, reset, timed out): an outage
#: usually ends with a restart, and the retained state should be back within a second or two.
OUTAGE_BACKOFF = Backoff(initial_s=0.1, max_s=1.0, jitter=0.2)


class MqttLink:
    """One device's connection to the broker.

    Use as ``async with MqttLink(...) as link:``. Entering waits for the first
    connection and fails fast if it cannot be made; after that the link
    reconnects on its own for as long as it is open. Leaving publishes the
    ``offline`` availability (a clean disconnect does not fire the will) and
    disconnects.

    Args:
        config: the broker.
        client_id: the MQTT client id.
        availability: the retained availability topic, also used as the will.
        subscriptions: topic filters subscribed to after every connect.
        on_message: called (synchronously, so keep it short) for each message received, once the
            one-off queue has room for at least one more message.
        backoff: reconnect delays while the broker refuses the connection.
        outage_backoff: reconnect delays while the broker cannot be reached.
        keepalive_s: MQTT keepalive.
        timeout_s: how long one connect or publish may take.
        queue_limit: how many one-off messages may wait; at this many, senders and the reader wait.
        inbound_limit: how many received messages may wait for the reader (aiomqtt discards, and
            logs, what comes beyond that: only a broker that stops taking our messages for long lets
            that many pile up).
    """

    def __init__(
        self,
        config: BrokerConfig,
        *,
        client_id: str,
        availability: Availability,
        subscriptions: Sequence[str] = (),
        on_message: Callable[[aiomqtt.Message], None] | None = None,
        backoff: Backoff | None = None,
        outage_backoff: Backoff | None = None,
        keepalive_s: int = 15,
        timeout_s: float = 10.0,
        queue_limit: int = 1000,
        inbound_limit: int = 4096,
    ) -> None:
        self._config = config
        self._client_id = client_id
        self._availability = availability
        self._subscriptions = tuple(subscriptions)
        self._on_message = on_message
        self._backoff = backoff or REFUSED_BACKOFF
        self._outage_backoff = outage_backoff or OUTAGE_BACKOFF
        self._keepalive_s = keepalive_s
        self._timeout_s = timeout_s
        self._retained: dict[str, bytes] = {availability.topic: availability.online.encode()}
        self._dirty: dict[str, None] = {}  # an ordered set of retained topics still to send
        self._queue: deque[tuple[str, bytes]] = deque()
        self._queue_limit = queue_limit
        self._inbound_limit = inbound_limit
        self._room = asyncio.Event()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._down.set()
        self._first: asyncio.Future[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None
        self._closing = False
        self.connects = 0
        self.dropped = 0

    def __repr__(self) -> str:
        return (
            f"MqttLink({self._config.display!r}, client_id={self._client_id!r}, connected={self.connected})"
        )

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    @property
    def pending(self) -> int:
        """One-off messages waiting to be published."""
        return len(self._queue)

    @property
    def broker(self) -> str:
        """The broker, password left out."""
        return self._config.display

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect for the first time and start the reconnect loop.

        Raises:
            BrokerAuthError: the broker rejected the user name or password.
            BrokerError: the broker could not be reached.
        """
        if self._runner is not None:
            return
        self._client = await self._make_client()
        self._first = asyncio.get_running_loop().create_future()
        self._runner = asyncio.create_task(self._run(), name=f"mqtt-link:{self._client_id}")
        try:
            await self._first
        except BaseException:
            await self._stop_runner()
            raise

    async def close(self, *, timeout_s: float = 2.0) -> None:
        """Publish ``offline``, flush what is pending (within ``timeout_s``) and disconnect. Idempotent."""
        if self._runner is None or self._closing:
            return
        self._closing = True
        try:
            if self.connected:
                self.set_retained(self._availability.topic, self._availability.offline)
                with contextlib.suppress(TimeoutError):
                    await self.flush(timeout_s=timeout_s)
        finally:
            await self._stop_runner()

    async def _stop_runner(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await cancel_and_wait(runner)

    def set_retained(self, topic: str, payload: str | bytes) -> None:
        """Publish ``payload`` retained on ``topic``, now or at the next connect; the latest wins."""
        data = payload.encode() if isinstance(payload, str) else payload
        self._retained[topic] = data
        self._dirty[topic] = None
        self._kick()

    def send(self, topic: str, payload: str | bytes) -> bool:
        """Queue a one-off (not retained) message.

        Call :meth:`wait_for_room` first (or send from ``on_message``, which is called when there
        is room): a full queue refuses the message rather than drop one already in it.

        Returns:
            ``False`` if the message was dropped: the broker is away, or the queue is full (logged).
        """
        if not self.connected:
            self.dropped += 1
            return False
        if len(self._queue) >= self._queue_limit:
            self.dropped += 1
            log.warning("MQTT send queue full (%d messages): dropped one to %s", len(self._queue), topic)
            return False
        self._queue.append((topic, payload.encode() if isinstance(payload, str) else payload))
        self._kick()
        return True

    async def wait_for_room(self) -> None:
        """Wait until the one-off queue can take a message; at once while the broker is away."""
        while self.connected and len(self._queue) >= self._queue_limit:
            self._room.clear()
            await self._room.wait()

    async def deliver(self, topic: str, payload: str | bytes) -> bool:
        """:meth:`send`, after waiting for room in the queue (back-pressure instead of a drop).

        Returns:
            ``False`` if the broker is away.
        """
        await self.wait_for_room()
        return self.send(topic, payload)

    async def flush(self, *, timeout_s: float | None = None) -> None:
        """Wait until everything handed over so far has been published.

        Raises:
            TimeoutError: still pending after ``timeout_s``.
        """
        async with asyncio.timeout(timeout_s):
            while self._dirty or self._queue or not self._drained.is_set():
                self._drained.clear()
                self._kick()
                await self._drained.wait()

    async def wait_connected(self) -> None:
        await self._up.wait()

    async def wait_disconnected(self) -> None:
        await self._down.wait()

    def _kick(self) -> None:
        self._drained.clear()
        self._room.set()  # waiters check again (the queue may have been emptied by a reconnect)
        self._wake.set()

    async def _make_client(self) -> aiomqtt.Client:
        cfg = self._config
        tls_context: ssl.SSLContext | None = None
        if cfg.tls:
            cafile = str(cfg.ca_file) if cfg.ca_file else None
            try:
                tls_context = await asyncio.to_thread(ssl.create_default_context, cafile=cafile)
            except (OSError, ssl.SSLError) as e:
                raise BrokerError(f"cannot load the CA file for {cfg.display}: {e}") from e
        client = aiomqtt.Client(
            cfg.host,
            cfg.port,
            username=cfg.username,
            password=cfg.password,
            identifier=self._client_id,
            will=aiomqtt.Will(self._availability.topic, self._availability.offline, qos=1, retain=True),
            keepalive=self._keepalive_s,
            timeout=self._timeout_s,
            tls_context=tls_context,
            # paho leaves Nagle's algorithm on: small state messages would wait for delayed ACKs.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
            max_queued_incoming_messages=self._inbound_limit,
        )
        # A batch of one-off messages is in flight at once by design; aiomqtt warns beyond 10.
        client.pending_calls_threshold = 2 * _WRITE_BATCH
        return client

    async def _run(self) -> None:
        try:
            await self._keep_connected()
        except Exception as e:  # a bug, not a broker problem: fail loudly rather than hang open()
            self._up.clear()
            self._down.set()
            if self._first is not None and not self._first.done():
                self._first.set_exception(BrokerError(f"MQTT link to {self._config.display} failed: {e!r}"))
            log.exception("MQTT link to %s failed", self._config.display)
            raise

    async def _keep_connected(self) -> None:
        refused, outage = self._backoff.delays(), self._outage_backoff.delays()
        repeated: str | None = None  # an outage retries every second: say it once, not each time
        while True:
            failure: aiomqtt.MqttError | None = None
            connects_before = self.connects
            try:
                await self._connect_and_serve()
            except* aiomqtt.MqttError as group:
                failure = _leaf(group)
            self._up.clear()
            self._down.set()
            message = _describe(failure, self._config)
            first = self._first
            if first is not None and not first.done():
                first.set_exception(message)
                return
            if self.connects > connects_before:  # it was up for a while: start the backoffs over
                refused, outage = self._backoff.delays(), self._outage_backoff.delays()
                repeated = None
            if str(message) == repeated:
                log.debug("%s; still reconnecting", message)
            elif self.connects and _is_auth(failure):
                log.error("%s; retrying", message)
            else:
                log.warning("%s; reconnecting", message)
            repeated = str(message)
            await asyncio.sleep(_next_delay(refused if _is_refusal(failure) else outage, self._backoff))

    async def _connect_and_serve(self) -> None:
        client = self._client
        assert client is not None
        async with client:
            for topic_filter in self._subscriptions:
                # QoS 0: mosquitto drops QoS 1 messages beyond 1,000 unacked to a busy subscriber,
                # while QoS 0 ones wait in the TCP buffers. A clean session loses both on a reconnect.
                await client.subscribe(topic_filter, qos=0)
            self.connects += 1
            log.info("connected to %s", self._config.display)
            # A fresh connection: every retained snapshot goes out again, availability first.
            self._dirty = dict.fromkeys(self._retained) | self._dirty
            self._queue.clear()
            self._up.set()
            self._down.clear()
            if self._first is not None and not self._first.done():
                self._first.set_result(None)
            self._kick()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read(client), name="mqtt-read")
                group.create_task(self._write(client), name="mqtt-write")

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self.wait_for_room()  # back-pressure: the answer to this message will fit
            if self._on_message is not None:
                try:
                    self._on_message(message)
                except Exception:  # a handler bug must not take the connection down
                    log.exception("MQTT message handler failed on %s", message.topic)

    async def _write(self, client: aiomqtt.Client) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._dirty or self._queue:
                    if self._dirty:
                        topic = next(iter(self._dirty))
                        del self._dirty[topic]
                        try:
                            await client.publish(topic, self._retained[topic], qos=1, retain=True)
                        except BaseException:
                            self._dirty.setdefault(topic)
                            raise
                    else:
                        await self._write_batch(client)
                self._drained.set()
        finally:
            self._room.set()  # senders waiting for room see the link is down

    async def _write_batch(self, client: aiomqtt.Client) -> None:
        # One ack round trip per batch rather than per message: a burst of answers keeps up.
        batch = [self._queue.popleft() for _ in range(min(_WRITE_BATCH, len(self._queue)))]
        self._room.set()
        async with asyncio.TaskGroup() as group:
            for topic, payload in batch:  # tasks start in order, so paho sends them in order
                group.create_task(client.publish(topic, payload, qos=1))


def _leaf(group: BaseExceptionGroup[aiomqtt.MqttError]) -> aiomqtt.MqttError:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, aiomqtt.MqttError)
    return error


def _is_refusal(error: aiomqtt.MqttError | None) -> bool:
    # the broker answered and said no; anything else (refused port, reset, timeout) is an outage
    return isinstance(error, MqttConnectError)


def _next_delay(delays: Iterator[float], backoff: Backoff) -> float:
    return next(delays, backoff.max_s)  # a bounded backoff keeps its longest delay


def _is_auth(error: aiomqtt.MqttError | None) -> bool:
    if not isinstance(error, aiomqtt.MqttCodeError):
        return False
    rc = error.rc
    code = rc.value if isinstance(rc, ReasonCode) else rc
    return code in _AUTH_CODES


def _describe(error: aiomqtt.MqttError | None, config: BrokerConfig) -> BrokerError:
    if _is_auth(error):
        who = f"user {config.username!r}" if config.username else "an anonymous client"
        return BrokerAuthError(
            f"MQTT broker {config.display} rejected the login of {who} (bad user name or password)"
        )
    detail = str(error) if error is not None else "connection closed"
    if isinstance(error, aiomqtt.MqttCodeError) and isinstance(error.rc, ReasonCode):
        detail = str(error.rc)
    return BrokerError(f"MQTT broker {config.display}: {' '.join(detail.split())}")
