"""An unmodified bleak BleakClient/BleakScanner against the simulated firmware over real ATT (Bumble)."""

from __future__ import annotations

import asyncio
import fnmatch

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from firmware_sim.ble import BleProfile, BumbleClientBackend, BumbleScannerBackend
from tests.sim.ble.ble_support import (
    BATTERY_LEVEL,
    BATTERY_SERVICE,
    CCCD,
    GUN,
    HELLO,
    Inbox,
    Rig,
    frame,
    payload_of,
    serve,
)

NUS = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
ACK, IDENTITY, STATUS, NAK = 0x80, 0x81, 0x82, 0x8E
MOTOR = 0x01


def client(rig: Rig, **kwargs: object) -> BleakClient:
    return BleakClient(rig.radio.address, backend=rig.radio.central.client_backend, **kwargs)  # type: ignore[arg-type]


async def test_scanner_sees_name_and_service_uuid(gun: Rig) -> None:
    found = await BleakScanner.discover(
        timeout=0.2, return_adv=True, service_uuids=[NUS], backend=gun.radio.central.scanner_backend
    )

    assert list(found) == [gun.radio.address]
    device, seen = found[gun.radio.address]
    assert device.name == seen.local_name == "PulseP5-0042"
    assert fnmatch.fnmatchcase(seen.local_name, "PulseP5-*")
    assert seen.service_uuids == [NUS]
    assert seen.rssi < 0


async def test_find_device_by_name_and_connect_with_the_ble_device(gun: Rig) -> None:
    backend = gun.radio.central.scanner_backend
    device = await BleakScanner.find_device_by_name(gun.profile.local_name, timeout=2, backend=backend)
    assert device is not None
    async with BleakClient(device, backend=gun.radio.central.client_backend) as c:
        assert c.address == gun.radio.address
        assert c.backend_id == "BumbleClientBackend"


async def test_scanner_filter_excludes_other_services(gun: Rig) -> None:
    other = "0000feed-0000-1000-8000-00805f9b34fb"
    async with BleakScanner(service_uuids=[other], backend=gun.radio.central.scanner_backend) as scanner:
        await asyncio.sleep(0.2)  # ten advertising intervals
        assert scanner.discovered_devices == []


async def test_connect_exchanges_mtu_and_discovers_nus_and_battery(gun: Rig) -> None:
    async with client(gun) as c:
        assert c.is_connected
        assert c.mtu_size == 247  # the client asks 517, the peripheral's limit is 247
        assert c.name == gun.profile.local_name  # read from the GAP Device Name
        nus = c.services.get_service(NUS)
        assert nus is not None
        rx = nus.get_characteristic(gun.profile.write_uuid)
        tx = nus.get_characteristic(gun.profile.notify_uuid)
        assert rx is not None
        assert tx is not None
        assert sorted(rx.properties) == ["write", "write-without-response"]
        assert rx.max_write_without_response_size == 244
        assert tx.properties == ["notify"]
        assert [d.uuid for d in tx.descriptors] == [CCCD]
        battery = c.services.get_service(BATTERY_SERVICE)
        assert battery is not None
        level = battery.get_characteristic(BATTERY_LEVEL)
        assert level is not None
        assert sorted(level.properties) == ["notify", "read"]


async def test_cushion_has_no_battery_service_and_its_own_name(cushion: Rig) -> None:
    async with client(cushion) as c:
        assert c.services.get_service(NUS) is not None
        assert c.services.get_service(BATTERY_SERVICE) is None
        assert fnmatch.fnmatchcase(c.name, "ShiatsuS3-*")


async def test_services_filter_limits_discovery(gun: Rig) -> None:
    async with client(gun, services=[NUS]) as c:
        assert [s.uuid for s in c.services] == [NUS]
        # No GAP service discovered and no advertisement seen: bleak's fallback, the address.
        assert c.name == gun.radio.address.replace(":", "-")


async def test_hello_gets_identity_notification(gun: Rig) -> None:
    inbox = Inbox()
    async with client(gun) as c:
        await c.start_notify(gun.profile.notify_uuid, inbox)
        await c.write_gatt_char(gun.profile.write_uuid, HELLO, response=True)
        identity = payload_of(await inbox.next(), seq=1, op=IDENTITY)

    version, model_code, _major, _minor = identity[:4]
    assert (version, model_code) == (1, 0x11)
    assert identity[4:].decode("ascii") == gun.firmware.serial


async def test_set_intensity_acks_then_notifies_status(gun: Rig) -> None:
    inbox = Inbox()
    async with client(gun) as c:
        await c.start_notify(gun.profile.notify_uuid, inbox)
        await c.write_gatt_char(gun.profile.write_uuid, bytes.fromhex("a5 07 10 01 03 e4"), response=True)
        ack = await inbox.next()
        status = payload_of(await inbox.next(), seq=0, op=STATUS)

    assert ack == bytes.fromhex("a5 07 80 01 10 67")
    flags, head, intensity = status[:3]
    assert flags & MOTOR
    assert intensity == 3
    assert head == 1  # the ball head is fitted and detected
    assert status[7] == 100  # battery %
    assert gun.firmware.state.intensity == 3


async def test_write_without_response_reaches_the_firmware(gun: Rig) -> None:
    inbox = Inbox()
    async with client(gun) as c:
        await c.start_notify(gun.profile.notify_uuid, inbox)
        await c.write_gatt_char(gun.profile.write_uuid, frame(9, 0x10, b"\x02"), response=False)
        assert await inbox.next() == frame(9, ACK, b"\x10")
        payload_of(await inbox.next(), seq=0, op=STATUS)
        assert gun.firmware.state.intensity == 2
        with pytest.raises(BleakError, match="max_write_without_response_size"):
            await c.write_gatt_char(gun.profile.write_uuid, bytes(245), response=False)


async def test_corrupt_frame_gets_a_nak_and_changes_nothing(gun: Rig) -> None:
    inbox = Inbox()
    async with client(gun) as c:
        await c.start_notify(gun.profile.notify_uuid, inbox)
        await c.write_gatt_char(gun.profile.write_uuid, bytes.fromhex("a5 07 10 01 03 00"), response=True)
        assert payload_of(await inbox.next(), seq=7, op=NAK) == bytes([0x10, 0x01])  # bad_checksum
    assert gun.firmware.state.intensity == 0


async def test_rx_is_write_only_and_tx_notify_only(gun: Rig) -> None:
    async with client(gun) as c:
        with pytest.raises(BleakGATTProtocolError) as read_rx:
            await c.read_gatt_char(gun.profile.write_uuid)
        with pytest.raises(BleakGATTProtocolError) as write_tx:
            await c.write_gatt_char(gun.profile.notify_uuid, b"\x00", response=True)
    assert read_rx.value.args[0] == 0x02  # Read Not Permitted
    assert write_tx.value.args[0] == 0x03  # Write Not Permitted


async def test_battery_level_reads_and_notifies(gun: Rig) -> None:
    levels = Inbox()
    async with client(gun) as c:
        assert await c.read_gatt_char(BATTERY_LEVEL) == bytearray([100])
        await c.start_notify(BATTERY_LEVEL, levels)
        gun.firmware.set_battery(40)
        assert await levels.next() == bytes([40])
        assert await c.read_gatt_char(BATTERY_LEVEL) == bytearray([40])
        assert await c.read_gatt_char(BATTERY_LEVEL, use_cached=True) == bytearray([40])


async def test_stop_notify_clears_the_cccd_and_silences_tx(gun: Rig) -> None:
    inbox = Inbox()
    async with client(gun) as c:
        tx = c.services.get_characteristic(gun.profile.notify_uuid)
        assert tx is not None
        cccd = tx.get_descriptor(CCCD)
        assert cccd is not None
        await c.start_notify(tx, inbox)
        assert await c.read_gatt_descriptor(cccd.handle) == bytearray(b"\x01\x00")
        await c.stop_notify(tx)
        assert await c.read_gatt_descriptor(cccd.handle) == bytearray(b"\x00\x00")
        await c.write_gatt_char(gun.profile.write_uuid, HELLO, response=True)
        await asyncio.sleep(0.05)
        assert inbox.empty()
        with pytest.raises(ValueError, match="CCCD"):
            await c.write_gatt_descriptor(cccd.handle, b"\x01\x00")


async def test_client_disconnect_fires_callback_and_device_advertises_again(gun: Rig) -> None:
    fired: list[BleakClient] = []
    c = client(gun, disconnected_callback=fired.append)
    await c.connect()
    assert gun.firmware.state.connected
    await c.disconnect()

    assert fired == [c]
    assert not c.is_connected
    assert not gun.firmware.state.connected
    await c.disconnect()  # idempotent
    assert fired == [c]
    backend = gun.radio.central.scanner_backend
    assert await BleakScanner.find_device_by_name(gun.profile.local_name, timeout=1, backend=backend)
    with pytest.raises(BleakError, match="Service Discovery has not been performed"):
        await c.read_gatt_char(BATTERY_LEVEL)


async def test_peripheral_side_disconnect_fires_callback() -> None:
    fired = asyncio.Event()
    async with serve(GUN) as rig:
        c = client(rig, disconnected_callback=lambda _: fired.set())
        await c.connect()
        await rig.radio.peripheral.aclose()  # the device powers off under a connected client
        async with asyncio.timeout(1):
            await fired.wait()
        assert not c.is_connected


async def test_link_drop_fault_disconnects_then_readvertises() -> None:
    from firmware_sim import FaultSpec

    async with serve(GUN, faults=FaultSpec(drop_link_at=0.2, reconnect_after=0.4)) as rig:
        dropped = asyncio.Event()
        c = client(rig, disconnected_callback=lambda _: dropped.set())
        await c.connect()
        async with asyncio.timeout(2):
            await dropped.wait()
        assert not rig.radio.peripheral.advertising  # still down: nothing to connect to
        with pytest.raises(BleakDeviceNotFoundError):
            await client(rig, timeout=0.1).connect()

        inbox = Inbox()
        async with client(rig, timeout=2) as again:  # waits for the advertisement to come back
            assert rig.radio.peripheral.advertising is False
            await again.start_notify(rig.profile.notify_uuid, inbox)
            await again.write_gatt_char(rig.profile.write_uuid, HELLO, response=True)
            payload_of(await inbox.next(), seq=1, op=IDENTITY)


async def test_simulator_close_disconnects_clients_from_the_device_side() -> None:
    fired = asyncio.Event()
    async with serve(GUN) as rig:
        c = client(rig, disconnected_callback=lambda _: fired.set())
        await c.connect()
        await rig.radio.aclose()
        async with asyncio.timeout(1):
            await fired.wait()
        assert not rig.firmware.state.connected


async def test_pair_bonds_and_unpair_forgets_and_disconnects(gun: Rig) -> None:
    keystore = gun.radio.central.device.keystore
    assert keystore is not None
    async with client(gun, pair=True) as c:
        assert [name for name, _ in await keystore.get_all()] == [gun.radio.address]
        assert await c.read_gatt_char(BATTERY_LEVEL) == bytearray([100])  # encrypted link still works
        await c.unpair()
        assert not c.is_connected
        assert await keystore.get_all() == []


async def test_cancelled_connect_leaves_the_radio_usable() -> None:
    from firmware_sim import FaultSpec

    async with serve(GUN, faults=FaultSpec(drop_link_at=0.0, reconnect_after=0.3)) as rig:
        attempt = asyncio.create_task(client(rig, timeout=5).connect())
        await asyncio.sleep(0.05)  # initiating, but nothing advertises
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
        # The device comes back: no stale attempt grabs it, and a new client gets it.
        async with client(rig, timeout=2) as c:
            assert c.is_connected
            assert rig.firmware.state.connected


async def test_request_in_flight_when_link_drops_raises_bleak_error(gun: Rig) -> None:
    c = client(gun)
    await c.connect()
    read = asyncio.create_task(c.read_gatt_char(BATTERY_LEVEL))
    await asyncio.sleep(0)  # the ATT Read Request is sent; the disconnect overtakes its response
    await c.disconnect()
    # Bumble cancels the pending request; the caller must see a bleak error, not a cancellation.
    with pytest.raises(BleakError, match="disconnected"):
        await read


async def test_connect_to_absent_address_times_out_then_real_connect_works(gun: Rig) -> None:
    absent = BleakClient("C0:00:00:00:00:01", backend=gun.radio.central.client_backend, timeout=0.1)
    with pytest.raises(BleakDeviceNotFoundError):
        await absent.connect()
    async with client(gun, timeout=2) as c:
        assert c.is_connected


async def test_unbound_backends_and_bad_addresses_are_clear_errors(gun: Rig) -> None:
    with pytest.raises(BleakError, match="unbound"):
        BleakClient(gun.radio.address, backend=BumbleClientBackend)
    with pytest.raises(BleakError, match="unbound"):
        BleakScanner(backend=BumbleScannerBackend)
    with pytest.raises(BleakError, match="not a Bluetooth address"):
        BleakClient("not-an-address", backend=gun.radio.central.client_backend)


def test_profile_from_catalog_validates() -> None:
    ble = {
        "local_name": "PulseP5-*",
        "service_uuid": NUS,
        "write_uuid": "6e400002-b5a3-f393-e0a9-e50e24dcca9e",
        "notify_uuid": "6e400003-b5a3-f393-e0a9-e50e24dcca9e",
    }
    profile = BleProfile.from_catalog("pulse-gun-p5", ble, serial="P5-00042")
    assert profile.local_name == "PulseP5-0042"
    assert profile.battery_service is False
    first_octet = int(profile.address.split(":")[0], 16)
    assert first_octet & 0xC0 == 0xC0  # random static
    assert BleProfile.from_catalog("pulse-gun-p5", ble, serial="P5-00042").address == profile.address
    assert BleProfile.from_catalog("pulse-gun-p5", ble, serial="P5-00043").address != profile.address
    with pytest.raises(ValueError, match="notify_uuid"):
        BleProfile.from_catalog("x", {k: v for k, v in ble.items() if k != "notify_uuid"}, serial="1")
    with pytest.raises(ValueError, match="serial"):
        BleProfile.from_catalog("x", ble, serial="far-too-long-serial")
