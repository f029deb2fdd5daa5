"""MqttLink against a real mosquitto: retained snapshots, availability, reconnects, logins."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest

from massager_ctl.errors import BrokerAuthError, BrokerError
from massager_ctl.mqtt.link import Availability, MqttLink
from massager_ctl.mqtt.url import parse_broker_url
from massager_ctl.retry import Backoff
from tests.mqtt.mqtt_support import PASSWORD, USER, Broker, free_port, retained, watch, write_password_file

AVAIL = Availability("t/dev/availability")
FAST = Backoff(initial_s=0.05, max_s=0.2)


def link_for(
    url: str,
    *,
    subscriptions: list[str] | None = None,
    on_message: Callable[[aiomqtt.Message], None] | None = None,
) -> MqttLink:
    config = parse_broker_url(url, environ={})
    return MqttLink(
        config,
        client_id="test-link",
        availability=AVAIL,
        backoff=FAST,
        subscriptions=subscriptions or [],
        on_message=on_message,
    )


async def test_snapshots_are_retained_and_offline_on_close(broker: Broker) -> None:
    async with watch(broker, "t/#") as watcher:
        async with link_for(broker.url) as link:
            link.set_retained("t/dev/state", '{"n": 1}')
            link.set_retained("t/dev/state", '{"n": 2}')
            assert link.send("t/dev/events", "e1")
            await link.flush(timeout_s=5)
            late = await retained(broker, "t/#")
            assert late == {"t/dev/availability": b"online", "t/dev/state": b'{"n": 2}'}
        assert await watcher.wait_for("t/dev/events") == b"e1"
        assert watcher.on("t/dev/availability") == [b"online", b"offline"]
    assert (await retained(broker, "t/#"))["t/dev/availability"] == b"offline"


async def test_handing_over_never_waits(broker: Broker) -> None:
    async with link_for(broker.url) as link:
        started = time.perf_counter()
        for i in range(20_000):
            link.set_retained("t/dev/session", f'{{"i": {i}}}')
        elapsed = time.perf_counter() - started
        await link.flush(timeout_s=5)
    assert elapsed < 0.5  # 20k hand-overs, no network waits in between
    assert (await retained(broker, "t/dev/session"))["t/dev/session"] == b'{"i": 19999}'


async def test_subscriptions_deliver_to_the_handler(broker: Broker) -> None:
    got: list[tuple[str, object]] = []
    arrived = asyncio.Event()

    def on_message(message: aiomqtt.Message) -> None:
        got.append((str(message.topic), message.payload))
        arrived.set()

    link = link_for(broker.url, subscriptions=["t/dev/cmd"], on_message=on_message)
    async with link, watch(broker, "nothing") as watcher:
        await watcher.client.publish("t/dev/cmd", b"hello", qos=1)
        async with asyncio.timeout(5):
            await arrived.wait()
    assert got == [("t/dev/cmd", b"hello")]


async def test_broker_restart_brings_the_snapshots_back(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="massager_ctl.mqtt")
    async with link_for(broker.url) as link:
        link.set_retained("t/dev/state", "s1")
        await link.flush(timeout_s=5)
        broker.stop()  # persistence is off: the broker forgets every retained message
        async with asyncio.timeout(5):
            await link.wait_disconnected()
        assert not link.send("t/dev/events", "lost")  # one-off messages are not replayed
        link.set_retained("t/dev/state", "s2")  # while away: goes out after the reconnect
        broker.start()
        async with asyncio.timeout(10):
            await link.wait_connected()
        await link.flush(timeout_s=5)
        assert link.connects == 2
        assert await retained(broker, "t/#") == {"t/dev/availability": b"online", "t/dev/state": b"s2"}
    assert "reconnecting" in caplog.text


async def test_bad_password_is_one_clear_line(auth_broker: Broker) -> None:
    with pytest.raises(BrokerAuthError) as info:
        async with link_for(auth_broker.url_for(USER, "wrong-password")):
            pass
    message = str(info.value)
    assert message == (
        f"MQTT broker mqtt://{USER}@127.0.0.1:{auth_broker.port} rejected the login of user '{USER}' "
        "(bad user name or password)"
    )
    assert "wrong-password" not in message


async def test_anonymous_refused_by_an_auth_broker(auth_broker: Broker) -> None:
    with pytest.raises(BrokerAuthError, match="rejected the login of an anonymous client"):
        async with link_for(auth_broker.url):
            pass


async def test_good_password_from_the_environment(
    auth_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASSAGER_MQTT_PASSWORD", PASSWORD)
    config = parse_broker_url(f"mqtt://{USER}@127.0.0.1:{auth_broker.port}")
    async with MqttLink(config, client_id="env", availability=AVAIL) as link:
        assert link.connected
        assert PASSWORD not in repr(link)


async def test_self_hashed_password_file_works(tmp_path: Path) -> None:
    # The fixture's fallback when mosquitto_passwd is missing must produce a file mosquitto accepts.
    folder = tmp_path / "b"
    folder.mkdir()
    write_password_file(folder / "passwd", USER, PASSWORD, tool=False)
    b = Broker(dir=folder, port=free_port(), password_file=folder / "passwd")
    b.start()
    try:
        async with link_for(b.url_for(USER, PASSWORD)) as link:
            assert link.connected
        with pytest.raises(BrokerAuthError):
            await link_for(b.url_for(USER, "nope")).open()
    finally:
        b.stop()


async def test_unreachable_broker_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(BrokerError, match=r"MQTT broker mqtt://127\.0\.0\.1:\d+: .*refused"):
        await link_for(f"mqtt://127.0.0.1:{free_port()}").open()
    assert time.monotonic() - started < 5


async def test_the_password_never_reaches_logs_or_messages(
    auth_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = link_for(auth_broker.url_for(USER, PASSWORD))
    async with good:
        good.set_retained("t/dev/state", "x")
        await good.flush(timeout_s=5)
        auth_broker.restart()  # a reconnect logs a warning
        async with asyncio.timeout(10):
            await good.wait_disconnected()
            await good.wait_connected()
        text = f"{good!r} {good.broker}"
    with pytest.raises(BrokerAuthError) as info:
        await link_for(auth_broker.url_for(USER, PASSWORD + "-wrong")).open()
    assert "reconnecting" in caplog.text
    for where in (caplog.text, text, str(info.value), repr(info.value)):
        assert PASSWORD not in where


async def test_mqtts_with_a_ca_file(tls_broker: Broker) -> None:
    assert tls_broker.tls is not None
    ca = tls_broker.tls[0]
    config = parse_broker_url(f"mqtts://127.0.0.1:{tls_broker.port}", ca_file=ca, environ={})
    async with MqttLink(config, client_id="tls", availability=AVAIL) as link:
        link.set_retained("t/dev/state", "over tls")
        await link.flush(timeout_s=5)
    tls = aiomqtt.TLSParameters(ca_certs=str(ca))
    async with aiomqtt.Client("127.0.0.1", tls_broker.port, tls_params=tls) as reader:
        await reader.subscribe("t/#", qos=1)
        got: dict[str, bytes] = {}
        async with asyncio.timeout(5):
            async for message in reader.messages:
                assert isinstance(message.payload, bytes)
                got[str(message.topic)] = message.payload
                if len(got) == 2:
                    break
    assert got == {"t/dev/availability": b"offline", "t/dev/state": b"over tls"}


async def test_mqtts_refuses_a_certificate_it_cannot_verify(tls_broker: Broker) -> None:
    config = parse_broker_url(f"mqtts://127.0.0.1:{tls_broker.port}", environ={})  # system CAs only
    with pytest.raises(BrokerError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        await MqttLink(config, client_id="tls", availability=AVAIL).open()
