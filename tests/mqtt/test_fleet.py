"""``massager-ctl fleet``: the view built from retained topics, and the command against a real mosquitto."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from massager_ctl.fleet import Fleet, render_table, snapshot, watch
from massager_ctl.mqtt import parse_broker_url
from tests.mqtt.mqtt_support import NODELAY, Broker, cli_env
from tests.mqtt.mqtt_support import watch as watch_topics
from tests.mqtt.test_serve import ready, serving

RUNNING = {
    "session_id": "s1",
    "routine": "desk-break",
    "title": "Desk break",
    "status": "running",
    "step_index": 1,
    "step_count": 4,
    "step_title": "Shoulders",
    "prompt": "Sit back",
    "waiting_for": None,
    "step_remaining_s": 42.0,
    "session_remaining_s": 312.4,
    "progress": 0.4,
}


def device_topics(
    device_id: str, *, availability: str, controller: str | None, model: str
) -> dict[str, bytes]:
    """The retained topics a controller leaves for one device (those the view reads)."""
    topics = {
        f"massager/{device_id}/availability": availability.encode(),
        f"massager/{device_id}/state": json.dumps(
            {"model": model, "connected": True, "motor": True}
        ).encode(),
        f"massager/{device_id}/session": json.dumps(RUNNING).encode(),
    }
    if controller is not None:
        topics[f"massager/{device_id}/controller"] = json.dumps({"id": controller}).encode()
    return topics


def fleet_of(*devices: dict[str, bytes]) -> Fleet:
    view = Fleet()
    for topics in devices:
        for topic, payload in topics.items():
            view.apply(topic, payload)
    return view


def test_an_online_device_shows_its_session_and_an_offline_one_shows_none() -> None:
    view = fleet_of(
        device_topics("bed1", availability="online", controller="ctl-a", model="bed-base-b2"),
        device_topics("gun2", availability="offline", controller="ctl-b", model="pulse-gun-p5"),
    )
    body = view.to_json()
    assert body["controllers"] == [{"id": "ctl-a", "devices": ["bed1"]}, {"id": "ctl-b", "devices": ["gun2"]}]
    bed, gun = body["devices"]
    assert (bed["device_id"], bed["availability"], bed["model"], bed["status"]) == (
        "bed1",
        "online",
        "bed-base-b2",
        "running",
    )
    assert (bed["step_index"], bed["step_count"], bed["session_remaining_s"]) == (1, 4, 312.4)
    # a dead controller cannot have updated the session topic: its last word is not shown as now
    assert (gun["availability"], gun["status"], gun["last_status"]) == ("offline", None, "running")
    assert gun["session_remaining_s"] is None
    assert gun["step_index"] is None

    lines = render_table(view).splitlines()
    assert lines[0].split() == [
        "CONTROLLER",
        "DEVICE",
        "NAME",
        "MODEL",
        "AVAILABILITY",
        "STATUS",
        "STEP",
        "REMAINING",
    ]
    assert lines[1].split() == [
        "ctl-a",
        "bed1",
        "bed-base-b2",
        "online",
        "running",
        "2/4",
        "Shoulders",
        "5:12",
    ]
    assert lines[2].split() == ["ctl-b", "gun2", "pulse-gun-p5", "offline"]


def test_cleared_topics_remove_a_device_and_malformed_ones_change_nothing() -> None:
    topics = device_topics("bed1", availability="online", controller=None, model="bed-base-b2")
    view = fleet_of(topics)
    assert not view.apply("massager/bed1/session", b"{not json")
    assert not view.apply("massager/bed1/cmd", b'{"action": "start"}')  # not a retained snapshot
    assert not view.apply("elsewhere/bed1/state", b"{}")
    assert view.apply("homeassistant/device/bed1/config", json.dumps({"dev": {"name": "Bedroom"}}).encode())
    assert view.rows()[0].name == "Bedroom"
    assert view.rows()[0].controller is None
    for topic in topics:
        assert view.apply(topic, b"")
    assert [row.device_id for row in view.rows()] == ["bed1"]  # the discovery config is still there
    assert view.apply("homeassistant/device/bed1/config", b"")
    assert view.rows() == []
    assert render_table(view) == "no devices on the broker"


async def publish_retained(broker: Broker, topics: dict[str, bytes]) -> None:
    async with aiomqtt.Client(
        broker.host, broker.port, identifier="old-controller", socket_options=NODELAY
    ) as c:
        for topic, payload in topics.items():
            await c.publish(topic, payload, qos=1, retain=True)


async def fleet_cli(broker: Broker, tmp_path: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "massager_ctl",
        "fleet",
        "--mqtt",
        broker.url,
        *args,
        env=cli_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {device["device_id"]: device for device in body["devices"]}


@pytest.mark.slow
async def test_fleet_lists_a_served_device_and_an_offline_one_and_publishes_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    await publish_retained(
        broker, device_topics("gun2", availability="offline", controller="ctl-b", model="pulse-gun-p5")
    )
    async with watch_topics(broker, "#") as everything, serving(broker, tmp_path):
        await ready(everything)
        await everything.wait_for("massager/cushion1/session", lambda p: json.loads(p)["status"] == "idle")
        before = len(everything.messages)

        body = json.loads(await fleet_cli(broker, tmp_path, "--json"))
        table = await fleet_cli(broker, tmp_path)
        await asyncio.sleep(0.3)  # anything the view had published would be here by now
        assert len(everything.messages) == before, everything.messages[before:]

    assert body["broker"] == broker.url
    devices = by_id(body)
    assert set(devices) == {"cushion1", "gun2"}
    cushion = devices["cushion1"]
    assert (cushion["availability"], cushion["model"], cushion["status"]) == (
        "online",
        "shiatsu-cushion-s3",
        "idle",
    )
    assert cushion["name"]  # from the discovery config
    assert (devices["gun2"]["availability"], devices["gun2"]["status"]) == ("offline", None)
    rows = {line.split()[1]: line.split() for line in table.splitlines()[1:]}
    assert rows["cushion1"][-2:] == ["online", "idle"]
    assert rows["gun2"] == ["ctl-b", "gun2", "pulse-gun-p5", "offline"]


@pytest.mark.slow
async def test_watch_redraws_when_a_device_goes_offline(broker: Broker) -> None:
    await publish_retained(
        broker, device_topics("bed1", availability="online", controller="ctl-a", model="bed-base-b2")
    )
    config = parse_broker_url(broker.url, environ={})
    assert [row.status for row in (await snapshot(config)).rows()] == ["running"]

    seen: list[list[tuple[str, str | None]]] = []
    changed = asyncio.Event()

    def on_change(view: Fleet) -> None:
        seen.append([(row.device_id, row.availability) for row in view.rows()])
        changed.set()

    task = asyncio.create_task(watch(config, on_change=on_change, min_interval_s=0.05))
    try:
        async with asyncio.timeout(10):
            while [("bed1", "online")] not in seen:
                changed.clear()
                await changed.wait()
            await publish_retained(broker, {"massager/bed1/availability": b"offline"})
            while seen[-1] != [("bed1", "offline")]:
                changed.clear()
                await changed.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
