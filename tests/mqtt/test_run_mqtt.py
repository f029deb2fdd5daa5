"""``run --mqtt``: what a session leaves on the broker, and a broker outage across a step boundary."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.events import StepStarted
from massager_ctl.mqtt import session_status
from massager_ctl.mqtt.url import parse_broker_url
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.retry import Backoff
from tests.mqtt.mqtt_support import Broker, cli_env, retained, watch, write_routine

pytestmark = pytest.mark.slow  # each test starts mosquitto

DEVICE = "sim://shiatsu-cushion-s3?link=virtual"
BASE = "massager/shiatsu-cushion-s3-sim"
SESSION_KEYS = {
    "session_id": str,
    "routine": str,
    "title": str,
    "status": str,
    "step_index": int,
    "step_count": int,
    "step_title": str,
    "prompt": (str, type(None)),
    "step_remaining_s": (int, float),
    "session_remaining_s": (int, float),
    "progress": (int, float),
}
STATE_KEYS = {
    "connected": bool,
    "motor": bool,
    "head": (str, type(None)),
    "intensity": int,
    "heat": (str, type(None)),
    "heat_level": int,
    "temperature_c": (float, type(None)),
    "battery": (int, type(None)),
}


def check_shape(body: dict[str, Any], shape: dict[str, Any]) -> None:
    for key, kind in shape.items():
        assert key in body, f"{key} missing from {body}"
        assert isinstance(body[key], kind), f"{key}={body[key]!r} is not {kind}"


def check_discovery(config: dict[str, Any]) -> None:
    assert set(config) >= {"dev", "o", "cmps", "availability"}
    assert config["dev"]["ids"] == ["massager-ctl_shiatsu-cushion-s3-sim"]
    assert config["availability"][0]["topic"] == f"{BASE}/availability"
    for key, component in config["cmps"].items():
        assert component["p"] in {"sensor", "number", "select", "switch", "button"}, key
        assert component["unique_id"] == f"shiatsu-cushion-s3-sim_{key}"
        for topic_key in ("state_topic", "command_topic"):
            if topic_key in component:
                assert component[topic_key].startswith(f"{BASE}/")
    assert {"battery", "status", "step", "remaining", "intensity", "head", "heat", "start", "stop"} - {
        "battery"
    } <= set(config["cmps"])


async def test_run_cli_leaves_well_formed_retained_topics(broker: Broker, tmp_path: Path) -> None:
    write_routine(tmp_path / "routines", "quick", step_s=1)
    async with watch(broker, f"{BASE}/#") as watcher:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "massager_ctl",
            "run",
            "quick",
            "--device",
            DEVICE,
            "--speed",
            "4",
            "--yes",
            "--mqtt",
            broker.url,
            env=cli_env(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, output.decode()
        await watcher.wait_for(f"{BASE}/availability", lambda p: p == b"offline")
        assert watcher.on(f"{BASE}/availability")[0] == b"online"
        statuses = {json.loads(p)["status"] for p in watcher.on(f"{BASE}/session")}
        assert {"running", "completed"} <= statuses
        kinds = [json.loads(p)["type"] for p in watcher.on(f"{BASE}/events")]
        assert kinds[0] == "session_started"
        assert kinds.count("step_started") == 3

    left = await retained(broker, "#")
    assert left[f"{BASE}/availability"] == b"offline"
    session = json.loads(left[f"{BASE}/session"])
    check_shape(session, SESSION_KEYS)
    assert (session["routine"], session["status"], session["step_count"], session["progress"]) == (
        "quick",
        "completed",
        3,
        1.0,
    )
    state = json.loads(left[f"{BASE}/state"])
    check_shape(state, STATE_KEYS)
    assert (state["motor"], state["intensity"], state["heat"]) == (False, 0, "off")
    check_discovery(json.loads(left["homeassistant/device/shiatsu-cushion-s3-sim/config"]))
    assert f"{BASE}/events" not in left  # the stream is not retained


async def test_broker_outage_across_a_step_boundary(broker: Broker, tmp_path: Path) -> None:
    write_routine(tmp_path / "routines", "steady", step_s=1.2)
    catalog = Catalog(routine_dirs=[tmp_path / "routines"])
    plan = preflight(catalog.routine("steady"), catalog.device("shiatsu-cushion-s3"), Caps())
    loop = asyncio.get_running_loop()
    starts: list[StepStarted] = []
    async with DeviceConnector(DEVICE, catalog=catalog) as connector:
        session = Session(plan, connect=connector.connect, device_url=DEVICE, person=AutoPerson())
        steps = session.bus.subscribe(maxsize=1024, name="test")

        async def next_start() -> StepStarted:
            while True:
                event = await steps.get()
                assert event is not None, "the session ended first"
                if isinstance(event, StepStarted):
                    starts.append(event)
                    return event

        fast = Backoff(initial_s=0.05, max_s=0.2)
        async with session_status(session, broker=parse_broker_url(broker.url), backoff=fast) as mqtt:
            run = asyncio.create_task(session.run())
            assert (await asyncio.wait_for(next_start(), 5)).index == 0
            await asyncio.sleep(0.6)
            await asyncio.to_thread(broker.stop)  # in the first step; retained messages are gone with it
            async with asyncio.timeout(5):
                await mqtt.link.wait_disconnected()
            down_t = loop.time() - session.t0
            crossed = await asyncio.wait_for(next_start(), 5)
            assert crossed.index == 1
            assert not mqtt.link.connected  # the step boundary fell inside the outage
            await asyncio.to_thread(broker.start)
            async with asyncio.timeout(5):
                await mqtt.link.wait_connected()
            up_t = loop.time() - session.t0
            assert down_t < crossed.session_t < up_t
            await mqtt.link.flush(timeout_s=5)
            mid = await retained(broker, "#", settle_s=0.2)
            assert not run.done()  # still in the middle of the routine
            result = await run
    assert result.status == "completed"
    assert mqtt.link.connects == 2
    assert mqtt.link.dropped >= 1  # the step_started event sent into the outage was dropped, not queued

    # The retained snapshots came back after the reconnect, mid-session, showing the step begun meanwhile.
    assert mid[f"{BASE}/availability"] == b"online"
    snapshot = json.loads(mid[f"{BASE}/session"])
    assert (snapshot["status"], snapshot["step_index"]) == ("running", 1)
    check_shape(json.loads(mid[f"{BASE}/state"]), STATE_KEYS)
    check_discovery(json.loads(mid["homeassistant/device/shiatsu-cushion-s3-sim/config"]))

    # Step timing: every step started where the plan put it, broker outage or not.
    while (event := steps.get_nowait()) is not None:
        if isinstance(event, StepStarted):
            starts.append(event)
    assert [s.index for s in starts] == [0, 1, 2]
    for step in starts:
        assert abs(step.session_t - step.planned_start_s) < 0.05, (step.index, step.session_t)


async def test_a_run_takes_its_controls_from_cmd(broker: Broker, tmp_path: Path) -> None:
    write_routine(tmp_path / "routines", "long", step_s=30)
    catalog = Catalog(routine_dirs=[tmp_path / "routines"])
    plan = preflight(catalog.routine("long"), catalog.device("shiatsu-cushion-s3"), Caps())

    def answer(request_id: str) -> Any:
        return lambda p: json.loads(p)["id"] == request_id

    async with watch(broker, f"{BASE}/#") as watcher, DeviceConnector(DEVICE, catalog=catalog) as connector:
        session = Session(plan, connect=connector.connect, device_url=DEVICE, person=AutoPerson())
        async with session_status(session, broker=parse_broker_url(broker.url)):
            run = asyncio.create_task(session.run())
            await watcher.wait_for(f"{BASE}/session", lambda p: json.loads(p)["status"] == "running")
            await watcher.client.publish(f"{BASE}/cmd", b'{"action": "pause", "id": "p"}', qos=1)
            assert json.loads(await watcher.wait_for(f"{BASE}/cmd/result", answer("p")))["ok"]
            await watcher.wait_for(f"{BASE}/session", lambda p: json.loads(p)["status"] == "paused")
            await watcher.client.publish(f"{BASE}/cmd", b'{"action": "start", "id": "s"}', qos=1)
            refused = json.loads(await watcher.wait_for(f"{BASE}/cmd/result", answer("s")))
            assert refused["error"] == "'start' is for 'massager-ctl serve'; this controller runs one session"
            await watcher.client.publish(f"{BASE}/cmd", b'{"action": "stop", "id": "x"}', qos=1)
            assert json.loads(await watcher.wait_for(f"{BASE}/cmd/result", answer("x")))["ok"]
            result = await asyncio.wait_for(run, 10)
        assert (result.status, result.reason, result.device_safe) == ("stopped", "stopped over MQTT", True)
        await watcher.wait_for(f"{BASE}/session", lambda p: json.loads(p)["status"] == "stopped")
        await watcher.wait_for(f"{BASE}/availability", lambda p: p == b"offline")
