"""Three ``serve`` processes with three simulated devices each, on one mosquitto with the example ACL.

``fleet`` (with the read-only guest login) lists all nine; a routine started on one device of each
controller runs while the other devices stay idle with motor and heat off; a controller killed with
SIGKILL turns its three devices ``offline`` through their last wills while the other six go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.mqtt.mqtt_support import NODELAY, Broker, Watcher, cli_env, free_port, write_routine
from tests.mqtt.test_acl import PASSWORDS, example_config

pytestmark = pytest.mark.slow

DEVICE = "sim://shiatsu-cushion-s3?link=virtual"
CONTROLLERS = ("c1", "c2", "c3")
LETTERS = ("a", "b", "c")
ALL = [f"{c}-{x}" for c in CONTROLLERS for x in LETTERS]


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "acl-broker"
    folder.mkdir()
    broker = Broker(dir=folder, port=free_port(), config=example_config(folder))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def env_for(tmp_path: Path, user: str) -> dict[str, str]:
    return {**cli_env(tmp_path), "MASSAGER_MQTT_PASSWORD": PASSWORDS[user]}


def url_of(broker: Broker, user: str) -> str:
    return f"mqtt://{user}@{broker.host}:{broker.port}"  # the password only in the environment


@contextlib.asynccontextmanager
async def controller(broker: Broker, tmp_path: Path, name: str) -> AsyncIterator[asyncio.subprocess.Process]:
    devices = [arg for x in LETTERS for arg in ("--device", DEVICE, "--device-id", f"{name}-{x}")]
    with (tmp_path / f"{name}.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "massager_ctl",
            "serve",
            "--mqtt",
            url_of(broker, "massager"),
            "--controller-id",
            name,
            *devices,
            env=env_for(tmp_path, "massager"),
            stdout=log,
            stderr=log,
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def owner(broker: Broker) -> AsyncIterator[Watcher]:
    async with aiomqtt.Client(
        broker.host, broker.port, username="owner", password=PASSWORDS["owner"], socket_options=NODELAY
    ) as client:
        await client.subscribe("massager/#", qos=1)
        watcher = Watcher(client)
        task = asyncio.create_task(watcher.run())
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


async def fleet_json(broker: Broker, tmp_path: Path) -> dict[str, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "massager_ctl",
        "fleet",
        "--mqtt",
        url_of(broker, "guest"),
        "--json",
        env=env_for(tmp_path, "guest"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    body = json.loads(out)
    return {device["device_id"]: device for device in body["devices"]}


def state_of(watcher: Watcher, device_id: str) -> dict[str, Any]:
    body: dict[str, Any] = watcher.last_json(f"massager/{device_id}/state")
    return body


def status_of(watcher: Watcher, device_id: str) -> str:
    return str(watcher.last_json(f"massager/{device_id}/session")["status"])


async def command(watcher: Watcher, device_id: str, body: dict[str, Any]) -> dict[str, Any]:
    await watcher.client.publish(f"massager/{device_id}/cmd", json.dumps(body), qos=1)
    answer = await watcher.wait_for(
        f"massager/{device_id}/cmd/result", lambda p: json.loads(p).get("id") == body["id"], within_s=20
    )
    result: dict[str, Any] = json.loads(answer)
    return result


def idle_and_safe(state: dict[str, Any]) -> bool:
    return state["connected"] and not state["motor"] and state["intensity"] == 0 and state["heat_level"] == 0


async def test_three_controllers_nine_devices_one_killed(acl_broker: Broker, tmp_path: Path) -> None:
    write_routine(tmp_path / "routines", "remote-test", step_s=30)
    async with contextlib.AsyncExitStack() as stack:
        watcher = await stack.enter_async_context(owner(acl_broker))
        procs = {
            name: await stack.enter_async_context(controller(acl_broker, tmp_path, name))
            for name in CONTROLLERS
        }
        for device_id in ALL:
            await watcher.wait_for(
                f"massager/{device_id}/availability", lambda p: p == b"online", within_s=60
            )
            await watcher.wait_for(
                f"massager/{device_id}/session", lambda p: json.loads(p)["status"] == "idle", within_s=60
            )

        listed = await fleet_json(acl_broker, tmp_path)
        assert sorted(listed) == ALL
        for device_id, row in listed.items():
            assert (row["controller"], row["availability"], row["model"], row["status"]) == (
                device_id.split("-")[0],
                "online",
                "shiatsu-cushion-s3",
                "idle",
            ), row

        for name in CONTROLLERS:
            started = await command(
                watcher, f"{name}-a", {"action": "start", "routine": "remote-test", "id": name}
            )
            assert started["ok"], started
        for name in CONTROLLERS:
            await watcher.wait_for(f"massager/{name}-a/state", lambda p: json.loads(p)["motor"], within_s=20)
        for name in CONTROLLERS:
            for x in ("b", "c"):
                assert status_of(watcher, f"{name}-{x}") == "idle"
                assert idle_and_safe(state_of(watcher, f"{name}-{x}"))

        procs["c2"].send_signal(signal.SIGKILL)
        await procs["c2"].wait()
        for x in LETTERS:
            await watcher.wait_for(f"massager/c2-{x}/availability", lambda p: p == b"offline", within_s=30)

        listed = await fleet_json(acl_broker, tmp_path)
        assert sorted(listed) == ALL
        for x in LETTERS:
            assert (listed[f"c2-{x}"]["availability"], listed[f"c2-{x}"]["status"]) == ("offline", None)
        for name in ("c1", "c3"):
            assert (listed[f"{name}-a"]["availability"], listed[f"{name}-a"]["status"]) == (
                "online",
                "running",
            )
            assert state_of(watcher, f"{name}-a")["motor"]
            for x in ("b", "c"):
                assert (listed[f"{name}-{x}"]["availability"], listed[f"{name}-{x}"]["status"]) == (
                    "online",
                    "idle",
                )
                assert idle_and_safe(state_of(watcher, f"{name}-{x}"))
        # the survivors' sessions still move: a fresh progress snapshot after the kill
        for name in ("c1", "c3"):
            seen = len(watcher.on(f"massager/{name}-a/session"))
            await watcher.wait_for(f"massager/{name}-a/session", None, within_s=10, after=seen)

        for name in ("c1", "c3"):
            procs[name].send_signal(signal.SIGTERM)
        for name in ("c1", "c3"):
            assert await asyncio.wait_for(procs[name].wait(), 30) == 0
        for name in ("c1", "c3"):
            for x in LETTERS:
                await watcher.wait_for(
                    f"massager/{name}-{x}/availability", lambda p: p == b"offline", within_s=10
                )
                state = state_of(watcher, f"{name}-{x}")
                assert (state["motor"], state["intensity"], state["heat_level"]) == (False, 0, 0)
