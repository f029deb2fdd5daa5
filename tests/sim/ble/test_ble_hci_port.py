"""Reaching the simulated radio through its HCI-over-TCP port, like a controller process with a dongle."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakBluetoothNotAvailableError
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.transport import open_transport

from firmware_sim.ble import bumble_central
from tests.sim.ble.ble_support import GUN, HELLO, Inbox, frame, payload_of, serve

IDENTITY, STATUS = 0x81, 0x82
RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"


def split_url(url: str) -> tuple[str, str, str]:
    """(address, model, hci) from ``ble://ADDRESS?model=M&hci=SPEC``."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.netloc, query["model"][0], query["hci"][0]


@contextlib.asynccontextmanager
async def massager_sim(model: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``massager-sim serve MODEL`` in its own process; yields it and the URL it printed."""
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "firmware_sim.cli",
        "serve",
        model,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert sim.stdout is not None
        async with asyncio.timeout(30):
            url = (await sim.stdout.readline()).decode().strip()
        yield sim, url
    finally:
        if sim.returncode is None:
            sim.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            await sim.wait()


@pytest.mark.slow
async def test_massager_sim_serve_reached_over_tcp_hci() -> None:
    async with massager_sim(GUN) as (sim, url):
        address, model, hci = split_url(url)
        assert url.startswith("ble://")
        assert model == GUN
        assert hci.startswith("tcp-client:127.0.0.1:")

        async with bumble_central(hci=hci) as central:
            found = await BleakScanner.discover(timeout=0.3, return_adv=True, backend=central.scanner_backend)
            assert found[address][1].local_name == "PulseP5-0042"
            inbox = Inbox()
            async with BleakClient(found[address][0], backend=central.client_backend) as client:
                await client.start_notify(TX, inbox)
                await client.write_gatt_char(RX, HELLO, response=True)
                assert payload_of(await inbox.next(), seq=1, op=IDENTITY)[:2] == bytes([1, 0x11])
                await client.write_gatt_char(RX, frame(2, 0x10, b"\x04"), response=True)
                assert await inbox.next() == frame(2, 0x80, b"\x10")
                assert payload_of(await inbox.next(), seq=0, op=STATUS)[2] == 4
    assert sim.returncode == 0  # SIGTERM is a clean exit


@pytest.mark.slow
async def test_simulator_process_killed_fires_disconnected_callback() -> None:
    async with massager_sim(GUN) as (sim, url):
        address, _, hci = split_url(url)
        async with bumble_central(hci=hci) as central:
            lost = asyncio.Event()
            client = BleakClient(
                address, backend=central.client_backend, disconnected_callback=lambda _: lost.set()
            )
            await client.connect()
            sim.kill()  # like pulling the dongle: no HCI event will ever say so
            async with asyncio.timeout(5):
                await lost.wait()
            assert not client.is_connected
            with pytest.raises(BleakBluetoothNotAvailableError, match="HCI transport is gone"):
                await client.connect()


async def test_host_that_vanishes_mid_connection_frees_the_device() -> None:
    async with serve(GUN, hci_port=0) as rig:
        transport = await open_transport(rig.radio.hci_transport)
        device = Device(host=Host(transport.source, transport.sink))
        await device.power_on()
        await device.connect(Address(rig.radio.address), timeout=2)
        assert rig.firmware.state.connected
        link_down = asyncio.Event()
        rig.firmware.subscribe(lambda state: None if state.connected else link_down.set())

        await transport.close()  # no disconnect: the dongle is simply gone

        async with asyncio.timeout(1):
            await link_down.wait()  # the device saw a supervision timeout
        # The port takes a new host, and the device advertises again for it.
        async with (
            bumble_central(hci=rig.radio.hci_transport) as central,
            BleakClient(rig.radio.address, backend=central.client_backend, timeout=2) as client,
        ):
            assert client.is_connected


async def test_hci_port_takes_one_host_at_a_time() -> None:
    async with serve(GUN, hci_port=0) as rig, bumble_central(hci=rig.radio.hci_transport):
        with pytest.raises(BleakBluetoothNotAvailableError, match="no Bluetooth controller"):
            async with bumble_central(hci=rig.radio.hci_transport):
                pass


async def test_unreachable_hci_transport_is_a_clear_error() -> None:
    async with serve(GUN, hci_port=0) as rig:
        spec = rig.radio.hci_transport
    # The simulator is gone, so its port is closed.
    with pytest.raises(BleakBluetoothNotAvailableError, match="cannot open HCI transport"):
        async with bumble_central(hci=spec):
            pass
    with pytest.raises(BleakBluetoothNotAvailableError, match="cannot open HCI transport"):
        async with bumble_central(hci="no-such-transport:1"):
            pass
