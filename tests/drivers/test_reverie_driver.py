"""The driver speaks Reverie: its product simulator on the Bumble radio, under the real service UUIDs.

Every frame the simulator receives is checked against the public rules (``55 … CK``, ``CK = 0x55 XOR
payload``) here, independently of both codecs; the state is what the base's notification reports.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncIterator
from functools import reduce

import pytest
from bleak import BleakScanner

from firmware_sim.ble import BleProfile, BleSimulator
from firmware_sim.families import ProductFirmware, firmware_for
from firmware_sim.opener import ServedProduct
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import exercise
from massager_ctl.connect import new_driver, open_source
from massager_ctl.drivers import MassagerDriver
from massager_ctl.errors import ConfigError, DeviceRefusedError
from massager_ctl.registry import OpenContext
from massager_ctl.transports.ble import BleTransport
from massager_ctl.urls import parse_device_url

# the products run on the Bumble radio, in memory: every wait is in virtual time
pytestmark = pytest.mark.looptime


def reverie_frame_ok(frame: bytes) -> bool:
    return frame[0] == 0x55 and frame[-1] == reduce(lambda a, b: a ^ b, frame[1:-1], 0x55)


@contextlib.asynccontextmanager
async def reverie(catalog: Catalog) -> AsyncIterator[tuple[MassagerDriver, ProductFirmware, deque[bytes]]]:
    profile = catalog.device("reverie-base")
    assert profile.ble is not None
    async with firmware_for(profile) as firmware:
        ble = BleProfile.for_product(profile.id, profile.ble.model_dump(), serial="A1B2C3D4")
        async with BleSimulator(firmware, ble) as radio:
            central = radio.central
            transport = BleTransport(
                radio.address,
                profile.ble,
                backend=central.client_backend,
                scanner_backend=central.scanner_backend,
            )
            async with MassagerDriver(profile, transport) as device:
                yield device, firmware, firmware.received


async def test_levels_are_set_absolutely_and_confirmed_by_the_notification(catalog: Catalog) -> None:
    async with reverie(catalog) as (device, firmware, received):
        assert device.state.safe
        state = await device.set_intensity(5)
        assert state.intensity == 5
        assert state.head == "head"
        assert firmware.state.head_massage == 5
        state = await device.set_head("foot")
        assert (state.head, state.intensity) == ("foot", 5)
        assert (firmware.state.head_massage, firmware.state.foot_massage) == (0, 5)
        state = await device.set_intensity(2)
        assert firmware.state.foot_massage == 2
        assert not state.assumed
        state = await device.stop()
        assert state.safe
        assert (firmware.state.head_massage, firmware.state.foot_massage) == (0, 0)
    assert received
    assert all(reverie_frame_ok(f) for f in received)
    # stop-motors to learn the state on open (it moves nothing), head 5, foot 5 + head 0 on the
    # zone change, foot 2, then the stop-massage frame (stop, and stop again on close)
    assert list(received) == [
        bytes.fromhex("55ffaa"),
        bytes.fromhex("55530503"),
        bytes.fromhex("55540504"),
        bytes.fromhex("55530006"),
        bytes.fromhex("55540203"),
        bytes.fromhex("553560"),
        bytes.fromhex("553560"),
    ]


async def test_a_reverie_base_has_no_heat(catalog: Catalog) -> None:
    async with reverie(catalog) as (device, _, _):
        with pytest.raises(DeviceRefusedError, match="no heater"):
            await device.set_heat(1)
        with pytest.raises(ConfigError):
            await device.set_mode("shiatsu")


async def test_devices_try_on_sim_reverie_serves_the_product_and_ends_stopped_as_it_reports(
    catalog: Catalog,
) -> None:
    lines: list[str] = []
    async with open_source(parse_device_url("sim://reverie-base"), OpenContext(catalog=catalog)) as source:
        assert isinstance(source, ServedProduct)
        # the product's own simulator, advertising its real service on the radio
        found = await BleakScanner.discover(
            timeout=0.2, return_adv=True, backend=source.radio.central.scanner_backend
        )
        _, seen = found[source.radio.address]
        assert seen.service_uuids == ["1b1d9641-b942-4da8-89cc-98e6a58fbd93"]
        firmware = source.firmware
        async with new_driver(source) as device:
            state = await exercise(device, dwell_s=0, echo=lines.append)
        assert state.safe
        assert (firmware.state.head_massage, firmware.state.foot_massage) == (0, 0)
    assert lines[-1] == "stopped (confirmed): motor off, intensity 0, heat 0, head foot, mode vibration"
    assert list(firmware.received)[-1] == bytes.fromhex("553560")
    assert all(reverie_frame_ok(f) for f in firmware.received)


async def test_a_wave_is_sent_open_loop_and_its_pattern_is_not_read_as_a_head_level(catalog: Catalog) -> None:
    async with reverie(catalog) as (device, firmware, received):
        state = await device.set_mode("wave")
        assert state.mode == "wave"
        assert state.assumed
        assert list(received)[-1] == bytes.fromhex("554114")  # wave 1: 0x40 + 1
        state = await device.stop()
        assert state.safe
        assert state.intensity == 0
        assert firmware.state.wave == 0
