"""Home Assistant device-based discovery payload and topic naming."""

from __future__ import annotations

import json

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.errors import ConfigError
from massager_ctl.mqtt.discovery import discovery_payload
from massager_ctl.mqtt.topics import device_id_for, device_id_from_url, make_topics


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
        "remaining": "sensor",
        "intensity": "number",
        "head": "select",
        "routine": "select",
        "start": "button",
        "pause": "button",
        "resume": "button",
        "skip": "button",
        "stop": "button",
    }  # no heat switch: the gun has no heat
    assert len({c["unique_id"] for c in cmps.values()}) == len(cmps)
    assert cmps["intensity"]["max"] == profile.intensity.max_level
    assert cmps["head"]["options"] == [h.id for h in profile.heads]
    assert cmps["routine"]["options"] == ["desk-break"]
    assert json.loads(cmps["start"]["payload_press"]) == {"action": "start"}
    for key in ("intensity", "head", "routine", "start", "stop"):
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
