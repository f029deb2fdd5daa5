"""The driver speaks Keeson: +/- keys stepped until the continuous status shows the level asked for.

Every frame the simulator receives is checked against the public rule (``E5 FE 16 <LE32 keys> CK``,
``CK = ~sum(bytes 0..6) & 0xFF``) here, independently of both codecs; the state is what the base's
status frame reports.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from firmware_sim.ble import BleProfile, BleSimulator
from firmware_sim.families import ProductFaults, ProductFirmware, firmware_for
from firmware_sim.opener import ServedProduct
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import exercise
from massager_ctl.connect import new_driver, open_source
from massager_ctl.drivers import MassagerDriver
from massager_ctl.drivers.families import StepKey
from massager_ctl.drivers.keeson import KeesonFamily
from massager_ctl.protocol.messages import StatusReport
from massager_ctl.registry import OpenContext
from massager_ctl.transports.ble import BleTransport
from massager_ctl.urls import parse_device_url
from tests.drivers.driver_support import Delayed

# the products run on the Bumble radio, in memory: every wait is in virtual time
pytestmark = pytest.mark.looptime

HEAD_PLUS = bytes.fromhex("e5fe1600080000fe")
HEAD_MINUS = bytes.fromhex("e5fe160000800086")
FOOT_PLUS = bytes.fromhex("e5fe160004000002")
FOOT_MINUS = bytes.fromhex("e5fe160000000105")
MASSAGE_OFF = bytes.fromhex("e5fe160000000204")
RELEASE = bytes.fromhex("e5fe160000000006")


def key_frame_ok(frame: bytes) -> bool:
    return len(frame) == 8 and frame[:3] == b"\xe5\xfe\x16" and frame[7] == (~sum(frame[:7])) & 0xFF


def status(head: int, foot: int, *, good: bool = True) -> bytes:
    body = bytes([0xED, 0xFE, 0x16, 0, 0, 0, 0, head, foot, 0, 0, 0, 0, 0x0F, 0xFF])
    return body + bytes([((~sum(body)) & 0xFF) ^ (0 if good else 0x5A)])


@contextlib.asynccontextmanager
async def keeson(
    catalog: Catalog,
    *,
    faults: ProductFaults | None = None,
    model: str = "keeson-base-i4",
    send_s: float = 0.0,
) -> AsyncIterator[tuple[MassagerDriver, ProductFirmware]]:
    profile = catalog.device(model)
    assert profile.ble is not None
    async with firmware_for(profile, faults=faults) as firmware:
        ble = BleProfile.for_product(profile.id, profile.ble.model_dump(), serial="A1B2C3D4")
        async with BleSimulator(firmware, ble) as radio:
            central = radio.central
            transport = BleTransport(
                radio.address,
                profile.ble,
                backend=central.client_backend,
                scanner_backend=central.scanner_backend,
            )
            async with MassagerDriver(profile, Delayed(transport, send_s=send_s)) as device:
                yield device, firmware


def presses(firmware: ProductFirmware) -> list[bytes]:
    return list(firmware.received)


@pytest.mark.parametrize("model", ["keeson-base-i4", "keeson-base-i5"])
async def test_levels_are_stepped_by_keys_until_the_status_shows_them(catalog: Catalog, model: str) -> None:
    async with keeson(catalog, model=model) as (device, firmware):
        assert device.state.safe
        state = await device.set_intensity(3)
        assert (state.head, state.intensity, state.motor) == ("head", 3, True)
        assert (firmware.state.head_massage, firmware.state.foot_massage) == (3, 0)
        state = await device.set_intensity(1)
        assert state.intensity == 1
        assert firmware.state.head_massage == 1
        assert presses(firmware) == [HEAD_PLUS] * 3 + [HEAD_MINUS] * 2
        # a zone change while massage runs: the new zone up to the level, then the old one off
        state = await device.set_head("foot")
        assert (state.head, state.intensity) == ("foot", 1)
        assert (firmware.state.head_massage, firmware.state.foot_massage) == (0, 1)
        assert presses(firmware)[-2:] == [FOOT_PLUS, HEAD_MINUS]
        state = await device.stop()
        assert state.safe
        assert (firmware.state.head_massage, firmware.state.foot_massage) == (0, 0)
    assert all(key_frame_ok(f) for f in firmware.received)
    # stop, and stop again on close: massage off then release, each confirmed by a status at 0/0
    assert presses(firmware)[-4:] == [MASSAGE_OFF, RELEASE, MASSAGE_OFF, RELEASE]


async def test_a_status_sent_before_the_press_landed_confirms_nothing(catalog: Catalog) -> None:
    # each press lands 0.25 s after it is sent, longer than the base's 0.2-s status period: a
    # periodic status (old levels) always comes in between
    async with keeson(catalog, send_s=0.25) as (device, firmware):
        state = await device.set_intensity(4)
        assert state.intensity == 4
        await asyncio.sleep(0.5)  # a press sent twice would show now
        assert firmware.state.head_massage == 4
        assert presses(firmware) == [HEAD_PLUS] * 4


def test_only_a_status_showing_the_press_answers_it(catalog: Catalog) -> None:
    family = KeesonFamily(catalog.device("keeson-base-i4"))
    assert family.decode(status(2, 0)) is not None
    family.frames(StepKey("intensity", True, 2))
    key = family.request_key(StepKey("intensity", True, 2))
    old = family.decode(status(2, 0))
    assert isinstance(old, StatusReport)
    assert not family.answers(old, key)
    # a frame with a failing checksum showing the very levels waited for is counted, never used
    assert family.decode(status(3, 0, good=False)) is None
    assert family.tally.bad == 1
    new = family.decode(status(3, 0))
    assert isinstance(new, StatusReport)
    assert family.answers(new, key)
    assert family.tally.good == 3


async def test_bad_checksum_status_frames_are_counted_and_never_confirm(catalog: Catalog) -> None:
    async with keeson(catalog, faults=ProductFaults(bad_checksum_every=2)) as (device, firmware):
        state = await device.set_intensity(5)
        assert state.intensity == 5
        assert firmware.state.head_massage == 5
        assert presses(firmware) == [HEAD_PLUS] * 5
        state = await device.stop()
        assert state.safe
        tally = device._link.codec.tally  # type: ignore[attr-defined]
        assert tally.bad > 0
        assert tally.good > 0


async def test_stopping_an_idle_base_is_confirmed_at_once(catalog: Catalog) -> None:
    async with keeson(catalog) as (device, firmware):
        loop = asyncio.get_running_loop()
        started = loop.time()
        state = await device.stop()
        assert state.safe
        # one status per frame, no ack timeout waited out
        assert loop.time() - started < device.profile.protocol.ack_timeout_s
        assert presses(firmware) == [MASSAGE_OFF, RELEASE]


async def test_devices_try_on_sim_keeson_ends_stopped_as_the_base_reports(catalog: Catalog) -> None:
    lines: list[str] = []
    url = parse_device_url("sim://keeson-base-i4?faults=bad_checksum_every=4")
    async with open_source(url, OpenContext(catalog=catalog)) as source:
        assert isinstance(source, ServedProduct)
        firmware = source.firmware
        async with new_driver(source) as device:
            state = await exercise(device, dwell_s=0, echo=lines.append)
        assert state.safe
        assert (firmware.state.head_massage, firmware.state.foot_massage) == (0, 0)
    assert lines[-1] == "stopped (confirmed): motor off, intensity 0, heat 0, head foot, mode vibration"
    assert list(firmware.received)[-2:] == [MASSAGE_OFF, RELEASE]
    assert all(key_frame_ok(f) for f in firmware.received)
