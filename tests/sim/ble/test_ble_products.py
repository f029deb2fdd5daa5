"""Real products' simulators on their real transport: an unmodified bleak client over the Bumble radio.

Frames are written as the public captures show them (docs/vectors/*.json) and read back byte by byte;
checksums are recomputed here from the rules in docs/devices/, independently of both codecs.
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
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from firmware_sim.ble import BleProfile, BleSimulator
from firmware_sim.families import ProductFaults, ProductFirmware, firmware_for
from massager_ctl.catalog import Catalog
from tests.sim.ble.ble_support import Inbox

VECTORS = Path(__file__).resolve().parents[3] / "docs" / "vectors"
KEESON_WRITE = "0000ffe9-0000-1000-8000-00805f9b34fb"
KEESON_NOTIFY = "0000ffe4-0000-1000-8000-00805f9b34fb"


def vector(family: str, name: str) -> bytes:
    data = json.loads((VECTORS / f"{family}.json").read_text(encoding="utf-8"))
    return next(bytes.fromhex(v["hex"]) for v in data["valid"] if v["name"] == name)


def keeson_sum_ok(frame: bytes) -> bool:
    return frame[-1] == (~sum(frame[:-1]) & 0xFF)


@dataclass
class Product:
    firmware: ProductFirmware
    profile: BleProfile
    radio: BleSimulator

    def client(self, **kwargs: Any) -> BleakClient:
        return BleakClient(self.radio.address, backend=self.radio.central.client_backend, **kwargs)


@contextlib.asynccontextmanager
async def product(
    model: str, *, speed: float = 1.0, faults: ProductFaults | None = None
) -> AsyncIterator[Product]:
    profile = Catalog().device(model)
    assert profile.ble is not None
    async with firmware_for(profile, speed=speed, faults=faults) as firmware:
        ble = BleProfile.for_product(model, profile.ble.model_dump(), serial="A1B2C3D4")
        async with BleSimulator(firmware, ble) as radio:
            yield Product(firmware, ble, radio)


async def frames_until(inbox: Inbox, predicate: Any, within_s: float = 2.0) -> bytes:
    async with asyncio.timeout(within_s):
        while True:
            frame = await inbox.next(within_s)
            if predicate(frame):
                return frame


async def test_keeson_advertises_its_name_and_serves_its_two_services() -> None:
    async with product("keeson-base-i4") as base:
        found = await BleakScanner.discover(
            timeout=0.2, return_adv=True, backend=base.radio.central.scanner_backend
        )
        _, seen = found[base.radio.address]
        assert seen.local_name == "base-i4.C3D4"
        assert seen.service_uuids == ["0000ffe5-0000-1000-8000-00805f9b34fb"]
        async with base.client() as c:
            command = c.services.get_service("0000ffe5-0000-1000-8000-00805f9b34fb")
            status = c.services.get_service("0000ffe0-0000-1000-8000-00805f9b34fb")
            assert command is not None
            assert status is not None
            write = command.get_characteristic(KEESON_WRITE)
            notify = status.get_characteristic(KEESON_NOTIFY)
            assert write is not None
            assert notify is not None
            assert "write" in write.properties
            assert notify.properties == ["notify"]


async def test_keeson_streams_status_and_steps_massage_one_level_per_press() -> None:
    async with product("keeson-base-i4") as base, base.client() as c:
        inbox = Inbox()
        await c.start_notify(KEESON_NOTIFY, inbox)
        idle = [await inbox.next() for _ in range(3)]  # continuous, even with nothing going on
        assert all(f[:3] == b"\xed\xfe\x16" and len(f) == 16 and keeson_sum_ok(f) for f in idle)
        assert idle[-1][7:9] == b"\x00\x00"
        assert idle[-1][14] == 0xFF  # no timer

        head_up = vector("keeson", "head massage +")
        for _ in range(3):
            await c.write_gatt_char(KEESON_WRITE, head_up, response=True)
        frame = await frames_until(inbox, lambda f: f[7] == 3)
        assert base.firmware.state.head_massage == 3
        assert frame[8] == 0  # the foot zone did not move
        assert frame[14] == 1  # massage started on the 10-minute timer
        assert 590 <= int.from_bytes(frame[9:12], "little") / 100 <= 600

        await c.write_gatt_char(KEESON_WRITE, vector("keeson", "massage timer step"), response=True)
        frame = await frames_until(inbox, lambda f: f[14] == 2)
        assert int.from_bytes(frame[9:12], "little") / 100 > 1190

        head_down = vector("keeson", "head massage -")
        for _ in range(3):
            await c.write_gatt_char(KEESON_WRITE, head_down, response=True)
        frame = await frames_until(inbox, lambda f: f[7] == 0)
        assert (frame[14], int.from_bytes(frame[9:12], "little")) == (0xFF, 0)
        assert not base.firmware.state.massage_on


async def test_keeson_massage_stops_by_its_own_timer_with_nobody_connected() -> None:
    # 600 times faster: the 10-minute timer runs out in one second
    async with product("keeson-base-i5", speed=600) as base:
        async with base.client() as c:
            await c.write_gatt_char(KEESON_WRITE, vector("keeson", "foot massage +"), response=True)
            await c.write_gatt_char(KEESON_WRITE, vector("keeson", "foot massage +"), response=True)
        assert base.firmware.state.foot_massage == 2
        assert base.firmware.state.timer_min == 10
        await asyncio.sleep(0.6)
        assert base.firmware.state.massage_on  # still running on its own, controller gone
        await asyncio.sleep(0.7)
        assert not base.firmware.state.massage_on
        assert base.firmware.state.timer_min is None


async def test_keeson_bad_checksum_fault_garbles_every_nth_status_frame() -> None:
    async with (
        # at ten times speed: the status stream comes ten times as often (the fault counts frames)
        product("keeson-base-i4", speed=10, faults=ProductFaults(bad_checksum_every=4)) as base,
        base.client() as c,
    ):
        inbox = Inbox()
        await c.start_notify(KEESON_NOTIFY, inbox)
        frames = [await inbox.next() for _ in range(12)]
        bad = [i for i, f in enumerate(frames) if not keeson_sum_ok(f)]
        assert len(bad) == 3
        assert all(f[:3] == b"\xed\xfe\x16" for f in frames)


async def test_single_connection_refusal_turns_a_controller_away() -> None:
    async with product("keeson-base-i4") as base:
        base.firmware.hold_elsewhere(True)
        with contextlib.suppress(BleakError):
            async with base.client(timeout=2) as c:
                await asyncio.sleep(0.3)
                assert not c.is_connected
        assert not base.firmware.connected
        base.firmware.hold_elsewhere(False)
        async with base.client(timeout=2) as c:
            assert c.is_connected
            assert base.firmware.connected


async def test_reverie_writes_and_notifies_on_one_characteristic() -> None:
    char = "6af87926-dc79-412e-a3e0-5f85c2d55de2"
    async with product("reverie-base") as base, base.client() as c:
        service = c.services.get_service("1b1d9641-b942-4da8-89cc-98e6a58fbd93")
        assert service is not None
        only = service.get_characteristic(char)
        assert only is not None
        assert {"write", "notify"} <= set(only.properties)
        inbox = Inbox()
        await c.start_notify(char, inbox)
        await c.write_gatt_char(char, vector("reverie", "head massage 5"), response=True)
        await c.write_gatt_char(char, vector("reverie", "foot massage 10"), response=True)
        frame = await frames_until(inbox, lambda f: f[5] == 10)
        assert len(frame) == 9
        assert frame[4] == 5
        assert (base.firmware.state.head_massage, base.firmware.state.foot_massage) == (5, 10)
        await c.write_gatt_char(char, vector("reverie", "stop massage"), response=True)
        frame = await frames_until(inbox, lambda f: f[4] == f[5] == 0)
        assert base.firmware.state.head_massage == base.firmware.state.foot_massage == 0


async def test_theragun_runs_at_the_rpm_written_and_reports_it_when_asked() -> None:
    write, notify = "0000ffe2-0000-1000-8000-00805f9b34fb", "0000ffe1-0000-1000-8000-00805f9b34fb"
    async with product("theragun-pro-4") as gun:
        found = await BleakScanner.find_device_by_name(
            "Pro", timeout=2, backend=gun.radio.central.scanner_backend
        )
        assert found is not None
        async with gun.client() as c:
            inbox = Inbox()
            await c.start_notify(notify, inbox)
            await c.write_gatt_char(write, vector("theragun", "2400 rpm"), response=True)
            assert gun.firmware.state.rpm == 2400
            assert inbox.empty()  # it answers only when asked
            await c.write_gatt_char(write, vector("theragun", "status request"), response=True)
            reply = await inbox.next()
            assert reply[0] == 0xBB
            assert reply[1] == sum(reply[2:]) & 0xFF
            assert (reply[2], reply[4], reply[13] << 8 | reply[14]) == (0x10, 1, 2400)
            await c.write_gatt_char(write, vector("theragun", "stop (0 rpm)"), response=True)
            assert not gun.firmware.state.running


async def test_richmat_is_found_by_its_service_and_says_nothing() -> None:
    service_uuid = "8ebd4f76-da9d-4b5a-a96e-8ebfbeb622e7"
    write = "d44bc439-abfd-45a2-b575-925416129600"
    async with product("richmat-wilinke-base") as base:
        found = await BleakScanner.discover(
            timeout=0.2,
            return_adv=True,
            service_uuids=[service_uuid],
            backend=base.radio.central.scanner_backend,
        )
        assert list(found) == [base.radio.address]
        assert found[base.radio.address][1].local_name is None
        async with base.client() as c:
            service = c.services.get_service(service_uuid)
            assert service is not None
            assert [ch.uuid for ch in service.characteristics] == [write]
            assert not any("notify" in ch.properties for s in c.services for ch in s.characteristics)
            await c.write_gatt_char(write, vector("richmat", "head massage level 2"), response=True)
            assert base.firmware.state.head_massage == 2
            # an open client follows each massage key with the end byte: massage must run on
            await c.write_gatt_char(
                write, vector("richmat", "end (6e): end of a press, stops the motors"), response=True
            )
            assert base.firmware.state.head_massage == 2
            head_off = bytes.fromhex("6e 01 00 98 07")  # head massage off, checksum from the rule
            await c.write_gatt_char(write, head_off, response=True)
            assert not base.firmware.state.massage_on


@pytest.mark.parametrize(
    "model", ["keeson-base-i4", "reverie-base", "theragun-elite-4", "richmat-wilinke-base"]
)
async def test_garbage_writes_change_nothing(model: str) -> None:
    async with product(model) as base, base.client() as c:
        before = base.firmware.state
        profile = Catalog().device(model)
        assert profile.ble is not None
        for junk in (b"\x00", b"\xff" * 20, bytes(range(8))):
            await c.write_gatt_char(profile.ble.write_uuid, junk, response=True)
        assert base.firmware.state == before


async def test_a_product_found_by_its_advertisement_is_driven_as_that_model() -> None:
    from massager_ctl.connect import open_device

    async with product("keeson-base-i5") as base:
        # no model: inferred from the advertised name, in a scan as long as the timeout (radio in-process)
        url = f"ble://{base.radio.address}?timeout=0.5"
        async with open_device(
            url,
            ble_backend=base.radio.central.client_backend,
            ble_scanner_backend=base.radio.central.scanner_backend,
        ) as device:
            assert device.profile.id == "keeson-base-i5"
            assert device.state.safe  # its continuous status, read as the Keeson driver reads it
        assert not base.firmware.connected


@pytest.mark.slow
async def test_served_keeson_base_is_driven_from_another_process_over_hci() -> None:
    from firmware_sim.ble import bumble_central
    from tests.sim.ble.test_ble_hci_port import massager_sim, split_url

    async with massager_sim("keeson-base-i4") as (sim, url):
        address, model, hci = split_url(url)
        assert model == "keeson-base-i4"
        async with bumble_central(hci=hci) as central:
            found = await BleakScanner.discover(timeout=0.3, return_adv=True, backend=central.scanner_backend)
            name = found[address][1].local_name
            assert name is not None
            assert name.startswith("base-i4.")
            inbox = Inbox()
            async with BleakClient(found[address][0], backend=central.client_backend) as c:
                await c.start_notify(KEESON_NOTIFY, inbox)
                await c.write_gatt_char(KEESON_WRITE, vector("keeson", "foot massage +"), response=True)
                frame = await frames_until(inbox, lambda f: f[8] == 1)
                assert keeson_sum_ok(frame)
                assert frame[14] == 1
    assert sim.returncode == 0
