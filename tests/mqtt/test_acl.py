"""The shipped mosquitto example (docs/examples/mosquitto): only the controller and the owner write ``cmd``.

massager-ctl carries out whatever reaches ``cmd``; the broker decides who may send it. This starts a
real mosquitto from the example configuration (machine-specific lines swapped for the test's), with
a password file made by ``mosquitto_passwd``, and drives ``serve``'s engine through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from firmware_sim.opener import ServedSim
from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.mqtt import make_topics, parse_broker_url, service_status
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.service import DeviceService
from massager_ctl.retry import Backoff
from tests.mqtt.mqtt_support import NODELAY, Broker, Watcher, free_port, write_routine

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mosquitto"
BASE = "massager/dev1"
DEVICE = "sim://shiatsu-cushion-s3?link=virtual"
PASSWORDS = {
    "massager": "ctl-" + secrets.token_hex(8),
    "owner": "own-" + secrets.token_hex(8),
    "guest": "g-x",
}
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def example_config(folder: Path) -> list[str]:
    """The example mosquitto.conf, its listener and file paths pointed at the test's."""
    password_file = folder / "passwd"
    for n, (user, password) in enumerate(PASSWORDS.items()):
        create = ["-c"] if n == 0 else []
        subprocess.run(
            [MOSQUITTO_PASSWD, *create, "-b", str(password_file), user, password],
            check=True,
            capture_output=True,
        )
    password_file.chmod(0o600)
    acl = folder / "acl"
    shutil.copyfile(EXAMPLE / "acl", acl)
    swapped = {"password_file": f"password_file {password_file}", "acl_file": f"acl_file {acl}"}
    lines = []
    for line in (EXAMPLE / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if not line or line.startswith("#") or key == "listener":
            continue  # the Broker helper writes the test's own listener
        lines.append(swapped.get(key, line))
    assert "allow_anonymous false" in lines
    assert set(swapped.values()) <= set(lines)
    return lines


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


@contextlib.asynccontextmanager
async def client_of(broker: Broker, user: str) -> AsyncIterator[Watcher]:
    """A logged-in client that records everything under the device's topics."""
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=user,
        password=PASSWORDS[user],
        identifier=f"{user}-{secrets.token_hex(3)}",
        socket_options=NODELAY,
    ) as client:
        await client.subscribe(f"{BASE}/#", qos=1)
        watcher = Watcher(client)
        task = asyncio.create_task(watcher.run())
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


@contextlib.asynccontextmanager
async def serving(broker: Broker, tmp_path: Path) -> AsyncIterator[DeviceConnector]:
    write_routine(tmp_path / "routines", "remote-test", step_s=30)
    catalog = Catalog(routine_dirs=[tmp_path / "routines"])
    connector = DeviceConnector(DEVICE, catalog=catalog)
    profile = catalog.device("shiatsu-cushion-s3")
    service = DeviceService(
        connect=connector.connect,
        device_url=DEVICE,
        profile=profile,
        catalog=catalog,
        caps=Caps(),
        backoff=Backoff(initial_s=0.05, max_s=0.2),
    )
    url = f"mqtt://massager:{PASSWORDS['massager']}@{broker.host}:{broker.port}"
    stop = asyncio.Event()
    async with (
        connector,
        service_status(
            service,
            broker=parse_broker_url(url, environ={}),
            topics=make_topics(prefix="massager", device_id="dev1"),
        ),
    ):
        run = asyncio.create_task(service.run(stop))
        try:
            yield connector
        finally:
            stop.set()
            await asyncio.wait({run}, timeout=30)
            assert run.done()


def session_status(watcher: Watcher) -> str:
    return str(watcher.last_json(f"{BASE}/session")["status"])


async def command(watcher: Watcher, body: dict[str, Any]) -> dict[str, Any]:
    await watcher.client.publish(f"{BASE}/cmd", json.dumps(body), qos=1)
    answer = await watcher.wait_for(f"{BASE}/cmd/result", lambda p: json.loads(p)["id"] == body["id"])
    result: dict[str, Any] = json.loads(answer)
    return result


@pytest.mark.slow
async def test_only_the_owner_can_start_or_pause_a_session(acl_broker: Broker, tmp_path: Path) -> None:
    with pytest.raises(aiomqtt.MqttCodeError, match=r"[Nn]ot authori[sz]ed"):
        async with aiomqtt.Client(acl_broker.host, acl_broker.port, identifier="anonymous-x"):
            pass

    async with (
        serving(acl_broker, tmp_path) as connector,
        client_of(acl_broker, "owner") as owner,
        client_of(acl_broker, "guest") as guest,
    ):
        assert isinstance(connector.source, ServedSim)
        firmware = connector.source.simulator.firmware
        await owner.wait_for(f"{BASE}/state", lambda p: json.loads(p)["connected"])
        await guest.wait_for(f"{BASE}/state", lambda p: json.loads(p)["connected"])  # guests may read

        # mosquitto acks the guest's publish and drops it: once acked, an allowed message would
        # already be queued for the controller ahead of the owner's next one.
        await guest.client.publish(
            f"{BASE}/cmd", json.dumps({"action": "start", "routine": "remote-test", "id": "g1"}), qos=1
        )
        assert (await command(owner, {"action": "select", "routine": "remote-test", "id": "o1"}))["ok"]
        assert session_status(owner) == "idle"
        assert not firmware.state.motor

        started = await command(owner, {"action": "start", "id": "o2"})
        assert started["ok"], started
        await owner.wait_for(f"{BASE}/state", lambda p: json.loads(p)["motor"])

        await guest.client.publish(f"{BASE}/cmd", json.dumps({"action": "pause", "id": "g2"}), qos=1)
        await guest.client.publish(f"{BASE}/cmd", json.dumps({"action": "stop", "id": "g3"}), qos=1)
        assert (await command(owner, {"action": "select", "routine": "remote-test", "id": "o3"}))["ok"]
        assert session_status(owner) == "running"
        assert firmware.state.motor

        assert (await command(owner, {"action": "pause", "id": "o4"}))["ok"]
        await owner.wait_for(f"{BASE}/session", lambda p: json.loads(p)["status"] == "paused")
        assert (await command(owner, {"action": "stop", "id": "o5"}))["ok"]
        await owner.wait_for(f"{BASE}/session", lambda p: json.loads(p)["status"] == "stopped")

        answered = {json.loads(p)["id"] for p in owner.on(f"{BASE}/cmd/result")}
        assert answered == {"o1", "o2", "o3", "o4", "o5"}  # the guest's commands never arrived
        assert guest.on(f"{BASE}/cmd/result")  # the guest still reads the answers
