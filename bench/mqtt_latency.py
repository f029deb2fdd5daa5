"""MQTT latency: a device state change until an independent subscriber has it, next to a raw round trip.

Both are measured in the same run against the same broker:

* **raw**: one aiomqtt client publishes (QoS 1), another receives: the broker and the
  library, nothing of ours.
* **state**: a simulated device (``sim://...?link=virtual``) confirms an intensity change;
  from the moment its driver reports the new state, through :class:`MqttStatus` (publisher,
  link, broker) to an independent subscriber's ``state`` message.

Usage::

    python bench/mqtt_latency.py [--count 200] [--broker mqtt://host:port]

Without ``--broker`` it starts ``/usr/sbin/mosquitto`` on a free loopback port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiomqtt

from massager_ctl.catalog import Catalog
from massager_ctl.mqtt import MqttStatus, make_topics, parse_broker_url
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.tasks import cancel_and_wait

DEVICE = "sim://shiatsu-cushion-s3?link=virtual"
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


@contextlib.contextmanager
def local_broker(binary: str) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("mosquitto did not start") from None
                    time.sleep(0.02)
            yield f"mqtt://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait()


@contextlib.asynccontextmanager
async def subscriber(host: str, port: int, topic: str) -> AsyncIterator[asyncio.Queue[tuple[float, bytes]]]:
    """An independent client: every message on ``topic`` with the time it arrived."""
    received: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    async with aiomqtt.Client(host, port, socket_options=NODELAY) as client:
        await client.subscribe(topic, qos=1)

        async def read() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else b""
                received.put_nowait((time.perf_counter(), payload))

        task = asyncio.create_task(read(), name="bench-subscriber")
        try:
            yield received
        finally:
            await cancel_and_wait(task)


async def raw_round_trips(host: str, port: int, count: int) -> list[float]:
    latencies = []
    async with (
        subscriber(host, port, "bench/raw") as received,
        aiomqtt.Client(host, port, socket_options=NODELAY) as sender,
    ):
        for i in range(count):
            sent = time.perf_counter()
            await sender.publish("bench/raw", str(i).encode(), qos=1)
            arrived, payload = await asyncio.wait_for(received.get(), 5)
            assert payload == str(i).encode()
            latencies.append(arrived - sent)
    return latencies


async def state_latencies(url: str, count: int) -> list[float]:
    catalog = Catalog()
    profile = catalog.device("shiatsu-cushion-s3")
    broker = parse_broker_url(url)
    topics = make_topics(device_id="bench")
    latencies = []
    async with (
        DeviceConnector(DEVICE, catalog=catalog) as connector,
        MqttStatus(
            broker, topics=topics, profile=profile, discovery=False, states_from_events=False
        ) as status,
        subscriber(broker.host, broker.port, topics.state) as received,
    ):
        driver = await connector.connect()
        changes: asyncio.Queue[tuple[float, int]] = asyncio.Queue()

        async def mirror() -> None:
            # What serve does: each confirmed state goes to the publisher as it is reported.
            async for state in driver.states():
                changes.put_nowait((time.perf_counter(), state.intensity))
                status.publisher.device_state(state)

        task = asyncio.create_task(mirror(), name="bench-mirror")
        try:
            for i in range(count):
                level = 1 + i % 2
                await driver.set_intensity(level)
                while True:  # the confirmed change (status reports between are skipped)
                    changed, intensity = await asyncio.wait_for(changes.get(), 5)
                    if intensity == level:
                        break
                while True:
                    arrived, payload = await asyncio.wait_for(received.get(), 5)
                    if json.loads(payload)["intensity"] == level:
                        break
                latencies.append(arrived - changed)
        finally:
            await cancel_and_wait(task)
            await driver.stop()
    return latencies


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    p50 = statistics.median(ms)
    return f"{name:<34} n={len(ms):<5} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   max {ms[-1]:7.2f} ms"


async def measure(url: str, count: int) -> None:
    broker = parse_broker_url(url)
    raw = await raw_round_trips(broker.host, broker.port, count)
    state = await state_latencies(url, count)
    print(f"broker {broker.display}, {count} samples each")
    print(summary("raw aiomqtt publish -> receive", raw))
    print(summary("device state change -> subscriber", state))


def run_on_a_broker(measure: Callable[[str, int], Coroutine[Any, Any, None]], doc: str | None) -> None:
    """Parse ``--count/--broker/--mosquitto``; run ``measure(url, count)`` on that broker or a local one."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--count", type=int, default=200, help="samples per measurement")
    parser.add_argument("--broker", help="broker URL (default: start a local mosquitto)")
    parser.add_argument("--mosquitto", default="/usr/sbin/mosquitto", help="mosquitto binary")
    args = parser.parse_args()
    if args.broker:
        asyncio.run(measure(args.broker, args.count))
        return
    with local_broker(args.mosquitto) as url:
        asyncio.run(measure(url, args.count))


def main() -> None:
    run_on_a_broker(measure, __doc__)


if __name__ == "__main__":
    main()
