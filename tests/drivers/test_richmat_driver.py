"""The driver speaks Richmat WiLinke: open loop, nothing read back, the stop sent and never confirmed.

Every frame the simulator receives is checked against the public rule (``6E 01 00 CMD CK``,
``CK = CMD + 0x6F``) here, independently of both codecs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.opener import ServedProduct
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import exercise
from massager_ctl.connect import new_driver, open_source
from massager_ctl.drivers.base import STOP_SENT_UNCONFIRMED
from massager_ctl.events import EventBus
from massager_ctl.orchestrator import Session
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.registry import OpenContext
from massager_ctl.urls import parse_device_url
from tests.foundation.cli_support import isolate
from tests.foundation.test_real_catalog import run_cli
from tests.orchestrator.orch_support import CATALOG, make_plan

# the products run on the Bumble radio, in memory: every wait is in virtual time
pytestmark = pytest.mark.looptime

HEAD_OFF, FOOT_OFF = bytes.fromhex("6e01009807"), bytes.fromhex("6e01009c0b")


def richmat_frame_ok(frame: bytes) -> bool:
    return len(frame) == 5 and frame[:3] == b"\x6e\x01\x00" and frame[4] == (frame[3] + 0x6F) & 0xFF


async def test_levels_are_sent_and_shown_as_assumed_and_the_stop_goes_out_several_times(
    catalog: Catalog,
) -> None:
    url = parse_device_url("sim://richmat-wilinke-base")
    async with open_source(url, OpenContext(catalog=catalog)) as source:
        assert isinstance(source, ServedProduct)
        firmware = source.firmware
        async with new_driver(source) as device:
            # opening sends the stop (head off, foot off) several times: all that can be known
            assert list(firmware.received) == [HEAD_OFF, FOOT_OFF] * 3
            assert device.state.assumed
            assert not device.state.safe
            state = await device.set_intensity(2)
            assert (state.intensity, state.head, state.assumed) == (2, "head", True)
            assert firmware.state.head_massage == 2
            state = await device.set_head("foot")
            assert (firmware.state.head_massage, firmware.state.foot_massage) == (0, 2)
            assert list(firmware.received)[-2:] == [bytes.fromhex("6e01009e0d"), HEAD_OFF]
            firmware.received.clear()
            state = await device.stop()
            # sent repeatedly, shown stopped but assumed: never "safe", which only a report can make it
            assert list(firmware.received) == [HEAD_OFF, FOOT_OFF] * 3
            assert (state.motor, state.intensity, state.assumed, state.safe) == (False, 0, True, False)
            assert not firmware.state.massage_on
    assert all(richmat_frame_ok(f) for f in firmware.received)


async def test_devices_try_says_the_stop_was_sent_not_confirmed(catalog: Catalog) -> None:
    lines: list[str] = []
    url = parse_device_url("sim://richmat-wilinke-base")
    async with open_source(url, OpenContext(catalog=catalog)) as source:
        assert isinstance(source, ServedProduct)
        firmware = source.firmware
        async with new_driver(source) as device:
            await exercise(device, dwell_s=0, echo=lines.append)
        assert not firmware.state.massage_on
        received = list(firmware.received)
    assert lines[-1].startswith(f"{STOP_SENT_UNCONFIRMED}: motor off, intensity 0")
    assert lines[-1].endswith("assumed")
    assert received[-2:] == [HEAD_OFF, FOOT_OFF]
    assert all(richmat_frame_ok(f) for f in received)


def test_unattended_risk_is_richmat_only(catalog: Catalog) -> None:
    assert catalog.device("richmat-wilinke-base").unattended_risk is not None
    # feedback (Reverie: no fail-safe), a fail-safe (Keeson), or both (the reference models)
    for model in ("reverie-base", "keeson-base-i4", "pulse-gun-p5"):
        assert catalog.device(model).unattended_risk is None


def test_serve_refuses_a_device_with_neither_feedback_nor_failsafe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    code, _, err = run_cli(
        capsys, "serve", "--device", "sim://richmat-wilinke-base", "--mqtt", "mqtt://127.0.0.1:9"
    )
    assert code == 2
    assert "reports nothing back" in err
    assert "--allow-unconfirmed" in err


async def test_a_session_ends_with_the_stop_sent_not_confirmed_and_not_failed() -> None:
    plan = make_plan(
        [
            {"title": "Back", "duration": 60, "device": {"head": "zone-upper", "intensity": 0.4}},
            {"title": "Legs", "duration": 60, "device": {"head": "zone-lower", "intensity": 0.4}},
        ],
        "richmat-wilinke-base",
    )
    url = "sim://richmat-wilinke-base"
    async with DeviceConnector(url, catalog=CATALOG) as connector:
        source = connector.source
        assert isinstance(source, ServedProduct)
        firmware = source.firmware
        session = Session(
            plan, connect=connector.connect, device_url=url, bus=EventBus(), person=AutoPerson()
        )
        result = await session.run()
        assert result.status == "completed", result.reason  # not a failure
        assert not result.device_safe  # and not confirmed
        assert result.stop == "sent_unconfirmed"
        assert result.reason.endswith(f"; {STOP_SENT_UNCONFIRMED}")
        assert not firmware.state.massage_on
        assert list(firmware.received)[-6:] == [HEAD_OFF, FOOT_OFF] * 3  # sent several times
