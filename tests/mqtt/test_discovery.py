"""Home Assistant device-based discovery payload and topic naming."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.cli import EXIT_BAD_INPUT
from massager_ctl.config import Caps
from massager_ctl.errors import ConfigError, PreflightError
from massager_ctl.mqtt.discovery import discovery_payload, runnable_routines
from massager_ctl.mqtt.payloads import SessionPayload
from massager_ctl.mqtt.topics import device_id_for, device_id_from_url, make_topics
from massager_ctl.orchestrator import preflight
from tests.foundation.cli_support import in_process, isolate
from tests.mqtt.mqtt_support import render_ha


def test_device_id_is_stable_and_safe() -> None:
    assert device_id_for("pulse-gun-p5", "AA:BB:CC:DD:EE:FF") == "pulse-gun-p5-aabbccddeeff"
    assert device_id_from_url("sim://pulse-gun-p5", "pulse-gun-p5") == "pulse-gun-p5-sim"
    long_id = device_id_from_url("serial:///dev/serial/by-id/usb-FTDI_FT232R_A50285BI-if00?model=z", "z")
    assert long_id == device_id_from_url("serial:///dev/serial/by-id/usb-FTDI_FT232R_A50285BI-if00", "z")
    assert len(long_id) <= 20
    make_topics(device_id=long_id)


@pytest.mark.parametrize("bad", ["a/b", "a+b", "", "x" * 65, "sp ace"])
def test_bad_device_ids_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="device id"):
        make_topics(device_id=bad)


@pytest.mark.parametrize("bad", ["", "/", "a/#", "a/+/b"])
def test_bad_prefixes_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        make_topics(prefix=bad, device_id="d")


def test_topics_layout() -> None:
    t = make_topics(prefix="home/massage/", device_id="gun1", discovery_prefix="ha")
    assert [t.availability, t.state, t.session, t.events, t.cmd, t.cmd_result, t.discovery, t.ha_status] == [
        "home/massage/gun1/availability",
        "home/massage/gun1/state",
        "home/massage/gun1/session",
        "home/massage/gun1/events",
        "home/massage/gun1/cmd",
        "home/massage/gun1/cmd/result",
        "ha/device/gun1/config",
        "ha/status",
    ]


def test_gun_discovery_has_every_entity() -> None:
    catalog = Catalog()
    profile = catalog.device("pulse-gun-p5")
    topics = make_topics(device_id="gun1")
    payload = discovery_payload(topics, profile, routines=[("desk-break", "Desk break")], firmware="1.2")
    json.dumps(payload)  # serialisable
    assert payload["dev"]["ids"] == ["massager-ctl_gun1"]
    assert payload["dev"]["sw"] == "1.2"
    assert payload["o"]["name"] == "massager-ctl"
    assert payload["availability"][0]["topic"] == "massager/gun1/availability"
    cmps = payload["cmps"]
    platforms = {key: c["p"] for key, c in cmps.items()}
    assert platforms == {
        "battery": "sensor",
        "status": "sensor",
        "step": "sensor",
        "prompt": "sensor",
        "remaining": "sensor",
        "intensity": "number",
        "head": "select",
        "routine": "select",
        "start": "button",
        "pause": "button",
        "resume": "button",
        "skip": "button",
        "confirm": "button",
        "stop": "button",
    }  # no heat switch: the gun has no heat
    assert len({c["unique_id"] for c in cmps.values()}) == len(cmps)
    assert cmps["intensity"]["max"] == profile.intensity.max_level
    assert cmps["head"]["options"] == [h.id for h in profile.heads]
    assert cmps["routine"]["options"] == ["desk-break"]
    assert json.loads(cmps["start"]["payload_press"]) == {"action": "start"}
    for key in ("intensity", "head", "routine", "start", "confirm", "stop"):
        assert cmps[key]["command_topic"] == "massager/gun1/cmd"
    assert cmps["battery"]["state_topic"] == "massager/gun1/state"
    assert cmps["status"]["state_topic"] == "massager/gun1/session"


def test_heat_switch_only_where_there_is_heat() -> None:
    profile = Catalog().device("shiatsu-cushion-s3")
    payload = discovery_payload(make_topics(device_id="c"), profile, routines=[])
    heat = payload["cmps"]["heat"]
    assert heat["p"] == "switch"
    assert json.loads(heat["payload_on"]) == {"action": "heat", "on": True}
    assert json.loads(heat["payload_off"]) == {"action": "heat", "on": False}
    assert "battery" not in payload["cmps"]
    assert "routine" not in payload["cmps"]


def snapshot(**fields: object) -> bytes:
    """A retained ``session`` body as the publisher writes it."""
    return json.dumps(SessionPayload.model_validate(fields).to_json()).encode()


def test_confirm_button_and_instruction_sensor() -> None:
    profile = Catalog().device("pulse-gun-p5")
    cmps = discovery_payload(make_topics(device_id="gun1"), profile, routines=[])["cmps"]
    confirm = cmps["confirm"]
    assert (confirm["p"], confirm["name"], confirm["command_topic"]) == (
        "button",
        "Confirm",
        "massager/gun1/cmd",
    )
    assert json.loads(confirm["payload_press"]) == {"action": "confirm"}

    prompt = cmps["prompt"]
    assert (prompt["p"], prompt["name"]) == ("sensor", "Instruction")
    assert prompt["state_topic"] == prompt["json_attributes_topic"] == "massager/gun1/session"
    fit = "Fit the Fork head (straddles the muscles beside the spine), then confirm."
    waiting = snapshot(status="waiting_for_confirm", step_title="Fork", prompt=fit, waiting_for="head_change")
    assert render_ha(prompt["value_template"], waiting) == fit
    assert json.loads(render_ha(prompt["json_attributes_template"], waiting)) == {
        "prompt": fit,
        "waiting_for": "head_change",
        "step": "Fork",
    }
    # Nothing to do: an empty state, not "None".
    assert render_ha(prompt["value_template"], snapshot(status="idle")) == ""
    # Home Assistant refuses a state over 255 characters: the state is cut, the attribute keeps it all.
    long = "Roll the ball slowly " * 20
    body = snapshot(status="running", prompt=long)
    assert render_ha(prompt["value_template"], body) == long[:255]
    assert json.loads(render_ha(prompt["json_attributes_template"], body))["prompt"] == long


def test_every_session_template_renders_on_an_idle_and_a_running_snapshot() -> None:
    profile = Catalog().device("shiatsu-cushion-s3")
    cmps = discovery_payload(make_topics(device_id="c"), profile, routines=[("desk-break", "Desk break")])[
        "cmps"
    ]
    running = snapshot(
        status="running",
        routine="desk-break",
        step_index=1,
        step_count=3,
        step_title="Lower",
        prompt="Breathe out.",
        session_remaining_s=61.26,
    )
    rendered = {
        key: render_ha(c["value_template"], running)
        for key, c in cmps.items()
        if c.get("state_topic") == "massager/c/session"
    }
    assert rendered == {
        "status": "running",
        "step": "Lower",
        "prompt": "Breathe out.",
        "remaining": "61.0",
        "routine": "desk-break",
    }
    idle = snapshot(status="idle")
    assert render_ha(cmps["step"]["value_template"], idle) == ""
    assert render_ha(cmps["prompt"]["value_template"], idle) == ""


def test_the_routine_select_offers_the_routines_that_pass_preflight() -> None:
    catalog = Catalog()
    library = catalog.routines().values()
    cushion = catalog.device("shiatsu-cushion-s3")
    offered = dict(runnable_routines(library, cushion, Caps()))
    assert {"shiatsu-full-back", "lower-back-heat-cushion", "desk-break"} <= offered.keys()
    assert "upper-back-massage-gun" not in offered  # needs the gun's fork and bullet heads
    no_heat = dict(runnable_routines(library, cushion, Caps(heat_allowed=False)))
    assert "lower-back-heat-cushion" not in no_heat  # the user's caps count too
    assert "desk-break" in no_heat
    short = dict(runnable_routines(library, cushion, Caps(max_session_minutes=10)))
    assert "full-session-30-cushion" not in short
    assert offered["desk-break"] == catalog.routine("desk-break").title
    for routine in library:
        if routine.id in no_heat:
            preflight(routine, cushion, Caps(heat_allowed=False))
        else:
            with pytest.raises(PreflightError):
                preflight(routine, cushion, Caps(heat_allowed=False))


def test_serve_refuses_a_default_routine_that_fails_preflight_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    cli = in_process(capsys)
    # Port 1: if serve got as far as the broker it would fail there, with another message and code.
    result = cli(
        "serve",
        "--device",
        "sim://pulse-gun-p5",
        "--mqtt",
        "mqtt://127.0.0.1:1",
        "--routine",
        "shiatsu-full-back",
    )
    assert result.code == EXIT_BAD_INPUT, result
    assert "the routine needs heat; pulse-gun-p5 has no heater" in result.err, result.err
    assert "broker" not in result.err.lower()
