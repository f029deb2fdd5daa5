"""Issue 11's bar for every real model: ``devices try`` and a whole routine on ``sim://MODEL`` end with the
device stopped as its simulator reports it, and the wire log holds only frames valid under the public
spec, ending with the family's stop frames.

Virtual time (looptime): the BLE products over the Bumble radio, the chair on the in-memory link (a
pty's bytes pass through the kernel in real time; ``test_chair_driver.py`` drives its pty). Frames are
checked with the controller's codecs, whose golden vectors both sides pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.families import ProductFirmware
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import try_url
from massager_ctl.config import Caps
from massager_ctl.events import EventBus
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.transports.wirelog import WireLog
from tests.drivers.driver_support import product_firmware
from tests.orchestrator.orch_support import CATALOG
from tests.protocol.test_real_fuzz import COMMAND_DECODERS, REPLY_DECODERS
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY

PRODUCTS = sorted(p.id for p in CATALOG.devices().values() if p.kind == "product")
ROUTINE = {
    "keeson": "bed-base-bedtime",
    "reverie": "bed-base-bedtime",
    "richmat": "bed-base-bedtime",
    "theragun": "lower-back-massage-gun",
    "rongtai": "chair-heated-back",
}
#: The frames each family's stop ends with, from the public sources (docs/devices/<family>.md).
STOP_TAIL = {
    "keeson": ["e5fe160000000204", "e5fe160000000006"],  # massage off, then release
    "reverie": ["553560"],  # stop massage
    "richmat": ["6e01009807", "6e01009c0b"],  # head off, foot off (sent several times, never confirmed)
    "theragun": ["aa070103000003", "aa101000"],  # 0 rpm, then the status request that confirms it
    "rongtai": ["f082017cf1"],  # power: the program off
}


def url_of(model: str) -> str:
    family = CATALOG.device(model).protocol.family
    return f"sim://{model}?link=virtual" if family == "rongtai" else f"sim://{model}"


def check_log(path: Path, family: str) -> None:
    """Every frame of the log decodes under the family's codec; what was sent ends with its stop."""
    lines: list[dict[str, Any]] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    sent = [bytes.fromhex(line["hex"]) for line in lines if line.get("dir") == "tx"]
    came = [bytes.fromhex(line["hex"]) for line in lines if line.get("dir") == "rx"]
    decode_command, _ = COMMAND_DECODERS[family]
    for frame in sent:
        decode_command(frame)  # raises FrameError on a bad header, length or checksum
    assert (family == "richmat") == (not came)  # a Richmat base says nothing at all
    for frame in came:
        REPLY_DECODERS[family](frame)
    tail = STOP_TAIL[family]
    assert [f.hex() for f in sent[-len(tail) :]] == tail
    if family == "rongtai":  # power toggles: each press that started the chair matched by one that stopped it
        assert sent.count(bytes.fromhex(tail[0])) % 2 == 0


def stopped(firmware: ProductFirmware) -> bool:
    """Motor (and heat) off, as the simulator itself has it."""
    state = firmware.state
    for running in ("massage_on", "running", "heat_on"):
        if getattr(state, running, False):
            return False
    levels = ("head_massage", "foot_massage", "wave", "rpm", "speed")
    return all(getattr(state, level, 0) == 0 for level in levels)


@pytest.mark.parametrize("model", PRODUCTS)
async def test_try_and_a_whole_routine_end_stopped_with_a_valid_wire_log(tmp_path: Path, model: str) -> None:
    profile = CATALOG.device(model)
    family = profile.protocol.family
    confirmed = profile.control_for("stop").confirmation != "none"
    url = url_of(model)

    async with WireLog(tmp_path / "try.jsonl") as log:
        state = await try_url(url, Catalog(), dwell_s=0.0, echo=lambda _: None, wire_log=log)
    assert not state.motor
    assert state.heat == 0
    assert state.assumed != confirmed  # confirmed by the device, or said to be assumed
    check_log(tmp_path / "try.jsonl", family)

    plan = preflight(CATALOG.routine(ROUTINE[family]), profile, Caps())
    async with (
        WireLog(tmp_path / "run.jsonl") as log,
        DeviceConnector(url, catalog=CATALOG, wire_log=log) as connector,
    ):
        firmware = product_firmware(connector)
        session = Session(
            plan, connect=connector.connect, device_url=url, bus=EventBus(), person=AutoPerson()
        )
        result = await session.run()
        assert result.status == "completed", result.reason
        assert result.device_safe == confirmed
        assert stopped(firmware)
        if family == "keeson":  # 16 min: its own timer stepped once, 10 -> 20 min, to cover the routine
            assert list(firmware.received).count(bytes.fromhex("e5fe160002000004")) == 1
    check_log(tmp_path / "run.jsonl", family)
