"""MQTT command floods: how many commands get an answer, how many a "busy" one, how many none.

A client publishes ``--count`` commands to a :class:`MqttStatus` (the ``serve`` command path, with a
handler that accepts everything) as fast as it can (``--rate 0``) or at ``--rate`` a second; most are
invalid (the flood of issue 9), some are pauses and stops. An independent subscriber counts the answers.

Usage::

    python bench/mqtt_flood.py [--count 3000] [--rate 0] [--broker mqtt://host:port]

Without ``--broker`` it starts ``/usr/sbin/mosquitto`` on a free loopback port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import Any

import aiomqtt
from mqtt_latency import NODELAY, local_broker

from massager_ctl.catalog import Catalog
from massager_ctl.mqtt import MqttStatus, make_topics, parse_broker_url
from massager_ctl.orchestrator.commands import Command
from massager_ctl.orchestrator.gate import CommandGate

BASE = "massager/bench"


class Accept:
    async def execute(self, command: Command) -> str:
        return f"{command.action} done"


def body(n: int) -> dict[str, Any]:
    if n % 97 == 0:
        return {"action": "stop", "id": f"c{n}"}
    if n % 3 == 0:
        return {"action": "pause", "id": f"c{n}", "client": "dashboard"}
    return {"action": "extend", "seconds": "1", "id": f"c{n}"}


async def flood(url: str, count: int, rate: float) -> dict[str, Any]:
    config = parse_broker_url(url, environ={})
    answers: dict[str, dict[str, Any]] = {}
    duplicates = 0
    all_in = asyncio.Event()

    async def count_answers(client: aiomqtt.Client) -> None:
        nonlocal duplicates
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b"{}"
            answer = json.loads(payload)
            duplicates += answer["id"] in answers
            answers[answer["id"]] = answer
            if len(answers) == count:
                all_in.set()

    async with (
        aiomqtt.Client(config.host, config.port, identifier="bench-watch", socket_options=NODELAY) as watch,
        aiomqtt.Client(config.host, config.port, identifier="bench-flood", socket_options=NODELAY) as sender,
        MqttStatus(
            config,
            topics=make_topics(prefix="massager", device_id="bench"),
            profile=Catalog().device("shiatsu-cushion-s3"),
            commands=CommandGate(Accept()),
            discovery=False,
        ) as status,
    ):
        await watch.subscribe(f"{BASE}/cmd/result", qos=1)
        counter = asyncio.create_task(count_answers(watch))
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for n in range(count):
                group.create_task(sender.publish(f"{BASE}/cmd", json.dumps(body(n)), qos=1))
                if rate > 0:
                    await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.perf_counter()))
        sent_s = time.perf_counter() - started
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                await all_in.wait()
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.5)  # any duplicate would come now
        counter.cancel()
        dropped = status.link.dropped
    busy = sum(1 for a in answers.values() if a.get("busy"))
    stops = [a for a in answers.values() if a["action"] == "stop"]
    return {
        "sent": count,
        "send_rate_per_s": round(count / sent_s),
        "answered": len(answers),
        "busy": busy,
        "unanswered": count - len(answers),
        "duplicates": duplicates,
        "stops_refused": sum(1 for a in stops if not a["ok"]),
        "link_dropped": dropped,
        "seconds_to_last_answer": round(elapsed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=0.0, help="commands a second; 0: all at once")
    parser.add_argument("--broker", help="mqtt://host:port (default: start a local mosquitto)")
    parser.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.broker or stack.enter_context(local_broker(args.mosquitto))
        print(json.dumps(asyncio.run(flood(url, args.count, args.rate)), indent=2))


if __name__ == "__main__":
    main()
