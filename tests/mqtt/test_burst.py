"""Bursts of commands against a real mosquitto: every command gets exactly one answer, or a "busy" one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from typing import Any

import aiomqtt
import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.mqtt import MqttStatus, make_topics, parse_broker_url
from massager_ctl.mqtt.link import Availability, MqttLink
from massager_ctl.mqtt.url import BrokerConfig
from massager_ctl.orchestrator.commands import Command, StopCommand
from massager_ctl.orchestrator.gate import CommandGate
from massager_ctl.orchestrator.ratelimit import Rate, RateLimiter
from tests.mqtt.mqtt_support import NODELAY, Broker, watch

pytestmark = pytest.mark.slow  # each test starts mosquitto

BASE = "massager/dev1"
BURST = 3000


class Recorder:
    """A command executor that notes what it was asked to do."""

    def __init__(self) -> None:
        self.handled: list[Command] = []

    async def execute(self, command: Command) -> str:
        self.handled.append(command)
        await asyncio.sleep(0)
        return "stopped" if isinstance(command, StopCommand) else "done"


def burst_command(n: int) -> dict[str, Any]:
    """Mostly invalid commands (the flood from issue 9), some valid ones, and a stop every 97th."""
    body: dict[str, Any]
    if n % 97 == 0:
        body = {"action": "stop"}
    elif n % 3 == 0:
        body = {"action": "pause", "client": "dashboard"}
    elif n % 3 == 1:
        body = {"action": "explode"}
    else:
        body = {"action": "extend", "seconds": "1", "client": "phone"}
    return {**body, "id": f"c{n}"}


async def publish_burst(broker: Broker, bodies: list[dict[str, Any]]) -> None:
    client = aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=f"flood-{secrets.token_hex(4)}",
        socket_options=NODELAY,
        max_inflight_messages=100,
    )
    # All at once: paho sends them back to back and holds the ones beyond its in-flight window.
    async with client, asyncio.TaskGroup() as group:
        for body in bodies:
            group.create_task(client.publish(f"{BASE}/cmd", json.dumps(body), qos=1))


async def test_a_burst_of_3000_commands_gets_3000_answers(broker: Broker) -> None:
    profile = Catalog().device("shiatsu-cushion-s3")
    handler = Recorder()
    bodies = [burst_command(n) for n in range(BURST)]
    async with (
        watch(broker, f"{BASE}/cmd/result") as watcher,
        MqttStatus(
            parse_broker_url(broker.url),
            topics=make_topics(prefix="massager", device_id="dev1"),
            profile=profile,
            commands=CommandGate(handler),
            discovery=False,
        ) as status,
    ):
        await publish_burst(broker, bodies)
        topic = f"{BASE}/cmd/result"
        with contextlib.suppress(TimeoutError):  # the count below tells how many were lost
            await watcher.wait_for(topic, lambda _: len(watcher.on(topic)) >= BURST, within_s=60)
        await asyncio.sleep(0.3)  # nothing more comes: no command is answered twice
        answers = [json.loads(p) for p in watcher.on(f"{BASE}/cmd/result")]
        assert status.link.dropped == 0

    assert len(answers) == BURST
    by_id = {a["id"]: a for a in answers}
    assert set(by_id) == {b["id"] for b in bodies}  # each command once: 3000 distinct ids in 3000 answers
    busy = [a for a in answers if a.get("busy")]
    assert busy, "a burst this size is over the rate limit"
    for answer in busy:
        assert answer["ok"] is False
        assert answer["error"].startswith("busy: "), answer
    for body in bodies:
        answer = by_id[body["id"]]
        if body["action"] == "stop":  # a stop is never shed
            assert answer == {"ok": True, "action": "stop", "id": body["id"], "message": "stopped"}
        elif not answer.get("busy"):
            assert answer["ok"] is (body["action"] == "pause"), answer
        if "client" in body:
            assert answer["client"] == body["client"]
    handled_stops = [c for c in handler.handled if isinstance(c, StopCommand)]
    assert 1 <= len(handled_stops) <= len([b for b in bodies if b["action"] == "stop"])
    # Only admitted commands reached the handler: admission comes before any work.
    admitted_pauses = [a for a in answers if a["action"] == "pause" and a["ok"]]
    assert len([c for c in handler.handled if c.action == "pause"]) == len(admitted_pauses)


async def test_answers_wait_for_room_instead_of_pushing_older_ones_out(broker: Broker) -> None:
    config: BrokerConfig = parse_broker_url(broker.url)
    link = MqttLink(
        config,
        client_id="small-queue",
        availability=Availability("t/availability"),
        queue_limit=8,
    )
    async with watch(broker, "t/answers") as watcher, link:
        for n in range(500):
            assert await link.deliver("t/answers", str(n))
            assert link.pending <= 8
        await link.flush(timeout_s=10)
        await watcher.wait_for("t/answers", lambda p: p == b"499")
        assert watcher.on("t/answers") == [str(n).encode() for n in range(500)]
        assert link.dropped == 0
        # A sender that does not wait is refused, loudly, rather than dropping what is queued.
        while link.send("t/answers", "more"):
            pass
        assert link.dropped == 1
        assert link.pending == 8


class SlowStop:
    """Stops wait until released, like a stop while idle waiting for the device's ack."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.handled: list[object] = []  # the commands' ids

    async def execute(self, command: Command) -> str:
        self.handled.append(command.id)
        if isinstance(command, StopCommand):
            await self.release.wait()
            return f"stopped by {command.id}"
        return "done"


async def test_stops_are_never_refused_and_share_one_in_progress(broker: Broker) -> None:
    profile = Catalog().device("shiatsu-cushion-s3")
    handler = SlowStop()
    limits = RateLimiter(
        clock=asyncio.get_running_loop().time,
        client_rate=Rate(per_s=0.001, burst=1.0),
        total_rate=Rate(per_s=0.001, burst=1.0),
    )
    async with (
        watch(broker, f"{BASE}/cmd/result") as watcher,
        MqttStatus(
            parse_broker_url(broker.url),
            topics=make_topics(prefix="massager", device_id="dev1"),
            profile=profile,
            commands=CommandGate(handler, limiter=limits),
            discovery=False,
        ),
    ):

        async def send(body: dict[str, Any]) -> None:
            await watcher.client.publish(f"{BASE}/cmd", json.dumps(body), qos=1)

        def answer(request_id: str) -> Any:
            return watcher.wait_for(f"{BASE}/cmd/result", lambda p: json.loads(p)["id"] == request_id)

        await send({"action": "stop", "id": "a"})
        await send({"action": "stop", "id": "b"})  # a is still in progress: b shares it
        await send({"action": "pause", "id": "c"})  # the one token
        await send({"action": "pause", "id": "d"})  # over the limit
        await send({"action": "stop", "id": "e"})  # after the pause: its own stop, not a's outcome
        await send({"action": "stop", "id": "f", "client": "phone"})  # shares e's
        assert json.loads(await answer("c"))["ok"]
        assert json.loads(await answer("d"))["busy"]
        await asyncio.sleep(0.3)
        assert handler.handled == ["a", "c", "e"]
        handler.release.set()
        assert json.loads(await answer("a"))["message"] == "stopped by a"
        assert json.loads(await answer("b"))["message"] == "stopped by a"
        assert json.loads(await answer("e"))["message"] == "stopped by e"
        assert json.loads(await answer("f")) == {
            "ok": True,
            "action": "stop",
            "id": "f",
            "client": "phone",
            "message": "stopped by e",
        }
        await asyncio.sleep(0.3)
        ids = [json.loads(p)["id"] for p in watcher.on(f"{BASE}/cmd/result")]
        assert sorted(ids) == ["a", "b", "c", "d", "e", "f"]


async def test_a_stop_after_another_command_in_the_same_burst_is_a_stop_of_its_own(broker: Broker) -> None:
    handler = SlowStop()
    async with (
        watch(broker, f"{BASE}/cmd/result") as watcher,
        MqttStatus(
            parse_broker_url(broker.url),
            topics=make_topics(prefix="massager", device_id="dev1"),
            profile=Catalog().device("shiatsu-cushion-s3"),
            commands=CommandGate(handler),
            discovery=False,
        ) as status,
    ):
        # Messages read in one go (a burst, or the reader let go after back-pressure) are all
        # dispatched before any command task runs: hand them to the link's callback the same way.
        for n, body in enumerate(
            [{"action": "stop", "id": "a"}, {"action": "pause", "id": "b"}, {"action": "stop", "id": "c"}]
        ):
            message = aiomqtt.Message(f"{BASE}/cmd", json.dumps(body).encode(), 0, False, n, None)
            status._on_message(message)
        await asyncio.sleep(0.2)
        assert handler.handled == ["a", "b", "c"]
        handler.release.set()
        answer = await watcher.wait_for(f"{BASE}/cmd/result", lambda p: json.loads(p)["id"] == "c")
        assert json.loads(answer)["message"] == "stopped by c"
