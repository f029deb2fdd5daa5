"""Home Assistant's side of ``serve``: only what the discovery config tells it, over a real mosquitto.

The tests act as Home Assistant would: they read the retained device config, render its templates on
the retained snapshots, and press buttons by publishing the config's own payloads to its own topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.opener import ServedSim
from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.mqtt import make_topics, parse_broker_url, service_status
from massager_ctl.mqtt.discovery import runnable_routines
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.service import DeviceService
from massager_ctl.retry import Backoff
from tests.mqtt.mqtt_support import Broker, Watcher, render_ha, watch

pytestmark = pytest.mark.slow  # each test starts mosquitto

BASE = "massager/dev1"
CONFIG = "homeassistant/device/dev1/config"

#: On the pulse gun: a prompt-only step that waits for the person, then a manual head change.
CONFIRM_ROUTINE = """\
id: ha-confirm
title: Confirm from Home Assistant
summary: Two waits for the person, for tests.
areas: [upper-back]
tools: [electric-massager, chair]
steps:
  - title: Get ready
    duration: 1
    confirm: true
    prompt: {text: "Sit upright on a chair and let your shoulders drop."}
  - title: Ball
    duration: 1.5
    device: {head: ball, intensity: 2}
    prompt: {text: "Glide the ball head over the top of the left shoulder."}
  - title: Fork
    duration: 1.5
    device: {head: fork, intensity: 1}
    prompt: {text: "Prongs either side of the spine, never on it."}
"""

#: On the shiatsu cushion: heat on in a long step, so a heat command lands mid-session.
HEAT_ROUTINE = """\
id: ha-heat
title: Heat from Home Assistant
summary: Heat in a long step, for tests.
areas: [lower-back]
tools: [electric-massager]
steps:
  - title: Warm
    duration: 60
    device: {head: zone-lower, intensity: 1, heat: low}
  - title: Warmer
    duration: 60
    device: {head: zone-lower, intensity: 2, heat: high}
"""


@dataclass
class HomeAssistant:
    """Plays Home Assistant against one served device."""

    watcher: Watcher
    config: dict[str, Any]
    connector: DeviceConnector
    service: DeviceService

    @property
    def firmware_state(self) -> Any:
        assert isinstance(self.connector.source, ServedSim)
        return self.connector.source.simulator.firmware.state

    def entity(self, key: str) -> dict[str, Any]:
        found: dict[str, Any] = self.config["cmps"][key]
        return found

    async def press(self, button: str) -> dict[str, Any]:
        """Press a button as Home Assistant does; the service's answer (the press carries no id)."""
        entity = self.entity(button)
        assert entity["p"] == "button"
        return await self._send(entity["command_topic"], entity["payload_press"])

    async def choose(self, select: str, option: str) -> dict[str, Any]:
        entity = self.entity(select)
        assert option in entity["options"]
        return await self._send(entity["command_topic"], render_ha(entity["command_template"], value=option))

    async def switch(self, switch: str, *, on: bool) -> dict[str, Any]:
        entity = self.entity(switch)
        return await self._send(entity["command_topic"], entity["payload_on" if on else "payload_off"])

    async def _send(self, topic: str, payload: str) -> dict[str, Any]:
        # One command at a time: the next answer is this command's, whatever its id.
        seen = len(self.watcher.on(f"{BASE}/cmd/result"))
        await self.watcher.client.publish(topic, payload, qos=1)
        answer: dict[str, Any] = json.loads(await self.watcher.nth(f"{BASE}/cmd/result", seen))
        return answer

    async def command(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send a command by hand (not through an entity); its answer."""
        return await self._send(f"{BASE}/cmd", json.dumps(body))

    async def session_where(self, **expected: Any) -> bytes:
        def matches(payload: bytes) -> bool:
            body = json.loads(payload)
            return all(body.get(k) == v for k, v in expected.items())

        return await self.watcher.wait_for(f"{BASE}/session", matches, within_s=20)

    def sensor(self, key: str, payload: bytes) -> str:
        """What Home Assistant shows for a session sensor given a ``session`` payload."""
        entity = self.entity(key)
        assert entity["state_topic"] == f"{BASE}/session"
        return render_ha(entity["value_template"], payload)


@contextlib.asynccontextmanager
async def home_assistant(
    broker: Broker, tmp_path: Path, device: str, routine: str, *, caps: Caps | None = None
) -> AsyncIterator[HomeAssistant]:
    folder = tmp_path / "routines"
    folder.mkdir(exist_ok=True)
    (folder / "routine.yaml").write_text(routine)
    catalog = Catalog(routine_dirs=[folder])
    caps = caps or Caps()
    connector = DeviceConnector(device, catalog=catalog)
    assert connector.model is not None
    profile = catalog.device(connector.model)
    service = DeviceService(
        connect=connector.connect,
        device_url=device,
        profile=profile,
        catalog=catalog,
        caps=caps,
        backoff=Backoff(initial_s=0.05, max_s=0.2),
    )
    stop = asyncio.Event()
    async with (
        watch(broker, f"{BASE}/#", CONFIG) as watcher,
        connector,
        service_status(
            service,
            broker=parse_broker_url(broker.url),
            topics=make_topics(prefix="massager", device_id="dev1"),
            routines=runnable_routines(catalog.routines().values(), profile, caps),
        ),
    ):
        run = asyncio.create_task(service.run(stop))
        try:
            await watcher.wait_for(f"{BASE}/state", lambda p: json.loads(p)["connected"], within_s=10)
            config = json.loads(await watcher.wait_for(CONFIG))
            yield HomeAssistant(watcher, config, connector, service)
        finally:
            stop.set()
            await asyncio.wait({run}, timeout=30)
            assert run.done()


async def test_a_session_started_and_confirmed_purely_over_mqtt_completes(
    broker: Broker, tmp_path: Path
) -> None:
    async with home_assistant(broker, tmp_path, "sim://pulse-gun-p5?link=virtual", CONFIRM_ROUTINE) as ha:
        assert (await ha.choose("routine", "ha-confirm"))["ok"]
        started = await ha.press("start")
        assert started["ok"], started

        # The first wait: the step's own prompt, shown by the instruction sensor.
        ready = await ha.session_where(status="waiting_for_confirm", step_index=0)
        assert ha.sensor("prompt", ready) == "Sit upright on a chair and let your shoulders drop."
        assert ha.sensor("status", ready) == "waiting_for_confirm"
        assert not ha.firmware_state.motor  # nothing runs while the person gets ready
        assert await ha.press("confirm") == {
            "ok": True,
            "action": "confirm",
            "id": None,
            "message": "confirmed",
        }

        ball = await ha.session_where(status="running", step_index=1)
        assert ha.sensor("prompt", ball) == "Glide the ball head over the top of the left shoulder."

        # The head change: the motor is held and the sensor says which head to fit.
        fork = await ha.session_where(status="waiting_for_confirm", step_index=2)
        instruction = ha.sensor("prompt", fork)
        assert instruction.startswith(
            "Fit the Fork head (straddles the muscles beside the spine), then confirm."
        )
        attributes = json.loads(render_ha(ha.entity("prompt")["json_attributes_template"], fork))
        assert attributes["waiting_for"] == "head_change"
        assert ha.firmware_state.intensity == 0
        assert (await ha.press("confirm"))["ok"]

        # Confirmed: the instruction is the step's prompt again, not the head change's.
        timed = await ha.session_where(status="running", step_index=2)
        assert ha.sensor("prompt", timed) == "Prongs either side of the spine, never on it."

        done = await ha.session_where(status="completed")
        assert ha.sensor("prompt", done) == ""
        await ha.watcher.wait_for(
            f"{BASE}/state", lambda p: json.loads(p)["connected"] and not json.loads(p)["motor"]
        )
        state = ha.firmware_state
        assert (state.motor, state.intensity, state.heat) == (False, 0, 0)
        finished = await ha.watcher.wait_for(
            f"{BASE}/events", lambda p: json.loads(p)["type"] == "session_finished"
        )
        assert json.loads(finished)["status"] == "completed"
        confirmed = [
            json.loads(p) for p in ha.watcher.on(f"{BASE}/events") if json.loads(p)["type"] == "confirmed"
        ]
        assert [(e["index"], e["by"]) for e in confirmed] == [(0, "user"), (2, "user")]
        # A press with nothing to confirm is answered, and changes nothing.
        late = await ha.press("confirm")
        assert late["ok"] is False
        assert "no session is running" in late["error"]


ANY_JSON = ["abc", 42, -0.5, True, False, None, {"ha": ["x", 1, None]}, [1, [2, {"three": 3}]], "", 10**25]


async def test_a_command_id_of_any_json_type_is_echoed_unchanged(broker: Broker, tmp_path: Path) -> None:
    async with home_assistant(broker, tmp_path, "sim://pulse-gun-p5?link=virtual", CONFIRM_ROUTINE) as ha:
        for n, request_id in enumerate(ANY_JSON):
            client = f"client{n}"  # each its own rate limit: this is not a flood
            for body in (
                {"action": "select", "routine": "ha-confirm"},  # carried out
                {"action": "pause"},  # refused by the controller: no session
                {"action": "extend", "seconds": -1},  # refused by validation
                {"action": "explode"},  # an unknown action
            ):
                answer = await ha.command({**body, "id": request_id, "client": client})
                assert answer["id"] == request_id, answer
                assert type(answer["id"]) is type(request_id), answer
                assert answer["ok"] is (body["action"] == "select"), answer


async def test_the_routine_select_offers_what_passes_preflight_and_refuses_the_rest(
    broker: Broker, tmp_path: Path
) -> None:
    # Without heat allowed, the heated test routine and the library's heat routines are not offered.
    caps = Caps(heat_allowed=False)
    device = "sim://shiatsu-cushion-s3?link=virtual"
    async with home_assistant(broker, tmp_path, device, HEAT_ROUTINE, caps=caps) as ha:
        options = ha.entity("routine")["options"]
        assert "desk-break" in options
        assert "ha-heat" not in options
        assert "lower-back-heat-cushion" not in options
        assert "upper-back-massage-gun" not in options  # the gun's heads
        catalog = Catalog()
        profile = catalog.device("shiatsu-cushion-s3")
        assert options == [i for i, _ in runnable_routines(catalog.routines().values(), profile, caps)]
        # Sent by hand, a routine the select does not offer is refused with the reason.
        refused = await ha.command({"action": "select", "routine": "ha-heat", "id": 1})
        assert refused["ok"] is False
        assert refused["error"].startswith("ha-heat does not pass pre-flight on shiatsu-cushion-s3: ")
        assert "caps.heat_allowed" in refused["error"]


async def test_heat_off_is_taken_mid_session_and_heat_on_only_within_the_budget(
    broker: Broker, tmp_path: Path
) -> None:
    async with home_assistant(broker, tmp_path, "sim://shiatsu-cushion-s3?link=virtual", HEAT_ROUTINE) as ha:
        assert (await ha.choose("routine", "ha-heat"))["ok"]
        assert (await ha.press("start"))["ok"]
        heat = ha.entity("heat")
        on = await ha.watcher.wait_for(f"{BASE}/state", lambda p: json.loads(p)["heat_level"] == 1)
        assert render_ha(heat["value_template"], on) == "ON"

        before = len(ha.watcher.on(f"{BASE}/state"))
        off = await ha.switch("heat", on=False)
        assert off == {
            "ok": True,
            "action": "heat",
            "id": None,
            "message": "heat off for the rest of the session",
        }
        cold = await ha.watcher.wait_for(
            f"{BASE}/state", lambda p: json.loads(p)["heat_level"] == 0, after=before
        )
        assert render_ha(heat["value_template"], cold) == "OFF"
        assert json.loads(cold)["motor"]  # the session runs on, only without heat
        heat_off_at = len(ha.watcher.on(f"{BASE}/state"))
        assert ha.service.session is not None

        # The next step's heat stays off too: its settings are applied (heat first), its heat is not.
        assert (await ha.press("skip"))["ok"]
        await ha.session_where(status="running", step_index=1)
        await ha.watcher.wait_for(f"{BASE}/state", lambda p: json.loads(p)["intensity"] == 2, within_s=20)
        assert ha.firmware_state.heat == 0
        assert all(
            json.loads(p)["heat_level"] in (0, None) for p in ha.watcher.on(f"{BASE}/state")[heat_off_at:]
        )

        # Heat on lets the routine's planned heat back (high in this step), within the budget.
        back = await ha.switch("heat", on=True)
        assert back == {
            "ok": True,
            "action": "heat",
            "id": None,
            "message": "heat on where the routine plans it, within its heat budget",
        }
        await ha.watcher.wait_for(f"{BASE}/state", lambda p: json.loads(p)["heat_level"] == 2)

        before = len(ha.watcher.on(f"{BASE}/state"))
        assert (await ha.press("stop"))["ok"]
        await ha.session_where(status="stopped")
        await ha.watcher.wait_for(
            f"{BASE}/state",
            lambda p: json.loads(p)["connected"] and json.loads(p)["heat_level"] == 0,
            after=before,
        )
        # Idle: heat on is refused, heat off is carried out on the device.
        idle_on = await ha.switch("heat", on=True)
        assert idle_on["ok"] is False
        assert "heat only runs inside a routine" in idle_on["error"]
        assert (await ha.switch("heat", on=False))["ok"]
        state = ha.firmware_state
        assert (state.motor, state.heat) == (False, 0)
