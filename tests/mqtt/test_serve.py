"""``massager-ctl serve`` as a real process, a real mosquitto, and an independent subscriber."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.mqtt.mqtt_support import USER, Broker, Watcher, cli_env, retained, watch, write_routine

pytestmark = pytest.mark.slow

DEVICE = "sim://shiatsu-cushion-s3?link=virtual"
BASE = "massager/cushion1"


def is_json(**expected: Any) -> Any:
    def check(payload: bytes) -> bool:
        body = json.loads(payload)
        return all(body.get(k) == v for k, v in expected.items())

    return check


@contextlib.asynccontextmanager
async def serving(
    broker: Broker, tmp_path: Path, *, url: str | None = None, device: str = DEVICE
) -> AsyncIterator[asyncio.subprocess.Process]:
    write_routine(tmp_path / "routines", "remote-test", step_s=30)
    with (tmp_path / "serve.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "massager_ctl",
            "serve",
            "--device",
            device,
            "--mqtt",
            url or broker.url,
            "--device-id",
            "cushion1",
            env=cli_env(tmp_path),
            stdout=log,
            stderr=log,
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def ready(watcher: Watcher) -> None:
    await watcher.wait_for(f"{BASE}/availability", lambda p: p == b"online", within_s=20)
    await watcher.wait_for(f"{BASE}/state", is_json(connected=True), within_s=20)


async def command(watcher: Watcher, body: dict[str, Any]) -> dict[str, Any]:
    await watcher.client.publish(f"{BASE}/cmd", json.dumps(body), qos=1)
    answer = await watcher.wait_for(f"{BASE}/cmd/result", is_json(id=body["id"]))
    result: dict[str, Any] = json.loads(answer)
    return result


async def test_a_whole_session_driven_remotely(broker: Broker, tmp_path: Path) -> None:
    async with watch(broker, f"{BASE}/#") as watcher, serving(broker, tmp_path) as proc:
        await ready(watcher)
        started = await command(watcher, {"action": "start", "routine": "remote-test", "id": "1"})
        assert started["ok"], started
        await watcher.wait_for(f"{BASE}/session", is_json(status="running", step_index=0))
        await watcher.wait_for(f"{BASE}/state", is_json(motor=True, head="upper", intensity=1))

        # Beyond the user's cap (0.8 of 3 levels = level 2): refused, and the session runs on.
        too_high = await command(watcher, {"action": "intensity", "level": 3, "id": "cap"})
        assert not too_high["ok"]
        assert "above your cap" in too_high["error"]

        paused = await command(watcher, {"action": "pause", "id": "2"})
        assert paused == {"ok": True, "action": "pause", "id": "2", "message": "paused"}
        session = json.loads(await watcher.wait_for(f"{BASE}/session", is_json(status="paused")))
        assert 0 < session["step_remaining_s"] <= 30
        await watcher.wait_for(f"{BASE}/state", is_json(motor=False, intensity=0))

        again = await command(watcher, {"action": "pause", "id": "2b"})
        assert again["error"] == "cannot pause: the session is paused"

        assert (await command(watcher, {"action": "resume", "id": "3"}))["ok"]
        await watcher.wait_for(f"{BASE}/session", is_json(status="running"))
        await watcher.wait_for(f"{BASE}/state", is_json(motor=True, intensity=1))

        assert (await command(watcher, {"action": "stop", "id": "4"}))["ok"]
        final = json.loads(await watcher.wait_for(f"{BASE}/session", is_json(status="stopped")))
        assert final["routine"] == "remote-test"
        assert final["step_count"] == 3
        await watcher.wait_for(f"{BASE}/state", is_json(motor=False, intensity=0, heat_level=0))
        assert proc.returncode is None  # serve keeps going, idle and safe

        statuses = [json.loads(p)["status"] for p in watcher.on(f"{BASE}/session")]
        seen = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
        assert seen == ["idle", "running", "paused", "running", "stopped"]
        await watcher.wait_for(f"{BASE}/events", is_json(type="session_finished", status="stopped"))
        events = [json.loads(p)["type"] for p in watcher.on(f"{BASE}/events")]
        assert events[0] == "session_started"
        assert {"paused", "resumed", "step_started"} <= set(events)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_stops_the_device_and_says_offline(
    broker: Broker, tmp_path: Path, sig: signal.Signals
) -> None:
    async with watch(broker, f"{BASE}/#") as watcher, serving(broker, tmp_path) as proc:
        await ready(watcher)
        assert (await command(watcher, {"action": "start", "routine": "remote-test", "id": "s"}))["ok"]
        await watcher.wait_for(f"{BASE}/state", is_json(motor=True))
        proc.send_signal(sig)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert (tmp_path / "serve.log").read_text().strip().endswith("stopped; the device is off")
    finished = [json.loads(p) for p in watcher.on(f"{BASE}/events")]
    assert finished[-1]["type"] == "session_finished"
    assert (finished[-1]["status"], finished[-1]["reason"]) == ("stopped", "the controller is shutting down")
    left = await retained(broker, f"{BASE}/#")
    assert left[f"{BASE}/availability"] == b"offline"
    assert json.loads(left[f"{BASE}/session"])["status"] == "stopped"
    state = json.loads(left[f"{BASE}/state"])
    assert (state["motor"], state["intensity"], state["heat_level"]) == (False, 0, 0)


async def test_kill_9_leaves_offline_by_the_will(broker: Broker, tmp_path: Path) -> None:
    async with watch(broker, f"{BASE}/availability") as watcher, serving(broker, tmp_path) as proc:
        await ready_availability(watcher)
        proc.kill()  # SIGKILL: no chance to say goodbye
        await proc.wait()
        await watcher.wait_for(f"{BASE}/availability", lambda p: p == b"offline", within_s=10)
    assert (await retained(broker, f"{BASE}/availability"))[f"{BASE}/availability"] == b"offline"


async def ready_availability(watcher: Watcher) -> None:
    await watcher.wait_for(f"{BASE}/availability", lambda p: p == b"online", within_s=20)


async def test_bad_credentials_one_line_and_exit_1(auth_broker: Broker, tmp_path: Path) -> None:
    async with serving(auth_broker, tmp_path, url=auth_broker.url_for(USER, "not-the-password")) as proc:
        code = await asyncio.wait_for(proc.wait(), 20)
    output = (tmp_path / "serve.log").read_text().strip()
    assert code == 1
    assert output.count("\n") == 0, output
    assert output == (
        f"error: MQTT broker mqtt://{USER}@127.0.0.1:{auth_broker.port} rejected the login of user "
        f"'{USER}' (bad user name or password)"
    )
    assert "not-the-password" not in output


MALFORMED: list[bytes] = [
    b"",
    b"{",
    b"not json",
    b"\xff\xfe\x00",
    b"[]",
    b"42",
    b"null",
    b'{"action": "launch"}',
    b'{"action": null}',
    b'{"action": "extend", "seconds": -1}',
    b'{"action": "extend", "seconds": "long"}',
    b'{"action": "intensity", "level": 500}',
    b'{"action": "intensity"}',
    b'{"action": "intensity", "delta": 0}',
    b'{"action": "start", "routine": ""}',
    b'{"action": "pause", "extra": 1}',
    b'{"action": "heat", "on": "maybe"}',
    b'{"action": "pause"}',  # valid JSON, but no session is running: an error too
    b'{"action": "start", "routine": "no-such-routine"}',
    b'{"action": "head", "head": "nose"}',
]


async def test_a_thousand_malformed_commands_each_get_an_error(broker: Broker, tmp_path: Path) -> None:
    async with watch(broker, f"{BASE}/#") as watcher, serving(broker, tmp_path) as proc:
        await ready(watcher)
        for i in range(1000):
            await watcher.client.publish(f"{BASE}/cmd", MALFORMED[i % len(MALFORMED)], qos=1)
        results = f"{BASE}/cmd/result"
        await watcher.wait_for(results, lambda _: len(watcher.on(results)) >= 1000, within_s=30)
        answers = [json.loads(p) for p in watcher.on(f"{BASE}/cmd/result")]
        assert len(answers) == 1000
        assert all(a["ok"] is False and a["error"] for a in answers)
        # The well-formed ones among them are answered for what they ask (those beyond the rate limit
        # are answered "busy" instead, which a client takes as "try again later").
        assert any("unknown routine 'no-such-routine'" in a["error"] for a in answers)
        assert any(a["error"].startswith("no session is running") for a in answers)
        assert all(a.get("busy") or "busy" not in a["error"] for a in answers)
        # Still alive and listening, once the rate limit has room again.
        for attempt in range(20):
            body = {"action": "select", "routine": "remote-test", "id": f"after-{attempt}"}
            selected = await command(watcher, body)
            if not selected.get("busy"):
                break
            await asyncio.sleep(0.2)
        assert selected["ok"], selected
        assert proc.returncode is None
        await watcher.wait_for(f"{BASE}/session", is_json(status="idle", routine="remote-test"))


async def test_home_assistant_birth_brings_discovery_again(broker: Broker, tmp_path: Path) -> None:
    topic = "homeassistant/device/cushion1/config"
    async with watch(broker, topic, f"{BASE}/availability") as watcher, serving(broker, tmp_path):
        await ready_availability(watcher)
        await watcher.wait_for(topic)
        before = len(watcher.on(topic))
        await watcher.client.publish("homeassistant/status", b"online", qos=1)
        await watcher.wait_for(topic, lambda _: len(watcher.on(topic)) > before, within_s=10)
        config = json.loads(watcher.on(topic)[-1])
        assert config["cmps"]["heat"]["p"] == "switch"
        assert config["cmps"]["confirm"]["payload_press"] == '{"action": "confirm"}'
        options = config["cmps"]["routine"]["options"]
        assert "remote-test" in options
        # Only the routines that pass pre-flight on the cushion: none that needs the gun's heads.
        assert "shiatsu-full-back" in options
        assert "upper-back-massage-gun" not in options


async def test_serve_reconnects_a_dropped_device(broker: Broker, tmp_path: Path) -> None:
    dropping = f"{DEVICE}&faults=drop_link_at=1.5,reconnect_after=0.5"
    async with watch(broker, f"{BASE}/#") as watcher, serving(broker, tmp_path, device=dropping) as proc:
        await ready(watcher)
        await watcher.wait_for(f"{BASE}/state", is_json(connected=False), within_s=15)
        refused = await command(watcher, {"action": "start", "routine": "remote-test", "id": "while-down"})
        assert not refused["ok"]
        down_at = len(watcher.on(f"{BASE}/state"))
        states = f"{BASE}/state"

        def back_up(_: bytes) -> bool:
            return any(json.loads(p)["connected"] for p in watcher.on(states)[down_at:])

        await watcher.wait_for(states, back_up, within_s=20)
        assert (await command(watcher, {"action": "start", "routine": "remote-test", "id": "up"}))["ok"]
        await watcher.wait_for(f"{BASE}/state", is_json(motor=True))
        assert proc.returncode is None


async def test_help_says_to_keep_the_password_out_of_the_url(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {"COLUMNS": "400"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "massager_ctl", "serve", "--help", env=env, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 30)
    text = " ".join(output.decode().replace("│", " ").split())
    assert proc.returncode == 0
    assert "Broker URL mqtt://user@host:port" in text
    assert "Give the password in MASSAGER_MQTT_PASSWORD" in text
    assert "a password in --mqtt shows in ps" in text
