"""Device URLs: parsing, the registry, each scheme against the simulator's real faces, and clear errors."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest

from firmware_sim import SimulatedDevice
from firmware_sim.ble import BleProfile, BleSimulator
from massager_ctl.catalog import Catalog
from massager_ctl.connect import open_device
from massager_ctl.errors import ConfigError, ConnectError, DeviceNotFoundError, ProtocolError
from massager_ctl.openers import model_for_advertisement
from massager_ctl.urls import parse_device_url


def test_parse_keeps_netloc_and_path_raw() -> None:
    ble = parse_device_url("ble://C4:AA:0B:12:34:56?model=pulse-gun-p5&timeout=3")
    assert (ble.scheme, ble.target, ble.model) == ("ble", "C4:AA:0B:12:34:56", "pulse-gun-p5")
    assert ble.number("timeout", 10.0) == 3.0
    serial = parse_device_url("serial:///dev/ttyUSB0?model=serial-cushion-z3")
    assert (serial.target, serial.model) == ("/dev/ttyUSB0", "serial-cushion-z3")
    sim = parse_device_url("sim://pulse-gun-p5?link=virtual&faults=drop_link_at=1,ack_delay_s=0.2&seed=3")
    assert sim.model == "pulse-gun-p5"
    assert sim.options == {"link": "virtual", "faults": "drop_link_at=1,ack_delay_s=0.2", "seed": "3"}
    assert parse_device_url("tcp://127.0.0.1:7000?model=serial-cushion-z3").target == "127.0.0.1:7000"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("usb://thing", "scheme 'usb'; expected one of: serial:///dev/ttyUSB0?model=MODEL"),
        ("usb://thing", "ble://ADDRESS[?model=MODEL&hci=SPEC&timeout=S], sim://MODEL[?link="),
        ("/dev/ttyUSB0", "no scheme; expected one of"),
        ("serial:///dev/ttyUSB0", "needs ?model=MODEL; expected serial:///dev/ttyUSB0?model=MODEL"),
        ("tcp://localhost?model=serial-cushion-z3", "is not HOST:PORT; expected tcp://HOST:PORT?model=MODEL"),
        ("tcp://localhost:99999?model=m", "is not HOST:PORT"),
        ("ble://AA:BB?model=x&baud=9600", "unknown option 'baud' (options: hci, model, timeout)"),
        ("sim://pulse-gun-p5?link=carrier-pigeon", "link must be one of virtual, pty, tcp, ble"),
        ("sim://pulse-gun-p5?link=virtual&link=pty", "option 'link' given twice"),
        ("sim://", "names no model"),
        ("ble://AA:BB/extra", "unexpected path"),
    ],
)
def test_bad_urls_show_the_expected_form(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match="expected") as info:
        parse_device_url(url)
    assert message in str(info.value)


async def test_unknown_model_and_wrong_link_are_config_errors(catalog: Catalog) -> None:
    known = r"unknown model 'massage-chair-9000'; known models: .*pulse-gun-p5"
    with pytest.raises(ConfigError, match=known):
        async with open_device("sim://massage-chair-9000", catalog=catalog):
            pass
    with pytest.raises(ConfigError, match="link=pty serves serial models"):
        async with open_device("sim://pulse-gun-p5?link=pty", catalog=catalog):
            pass
    with pytest.raises(ConfigError, match="is a ble model, not serial"):
        async with open_device("serial:///dev/null?model=pulse-gun-p5", catalog=catalog):
            pass
    with pytest.raises(ConfigError, match="unknown"):
        async with open_device("sim://pulse-gun-p5?link=virtual&faults=gremlins=1", catalog=catalog):
            pass


async def test_serial_and_tcp_urls_reach_a_served_simulator(catalog: Catalog) -> None:
    async with SimulatedDevice(catalog.device("serial-cushion-z3")) as sim:
        for url in (await sim.serve_pty(), await sim.serve_tcp()):
            async with open_device(url, catalog=catalog) as device:
                assert (await device.set_intensity(7)).intensity == 7
                assert sim.firmware.state.intensity == 7
            assert sim.firmware.state.intensity == 0, f"{url}: close stops the device"


async def test_missing_serial_port_and_closed_tcp_port_are_not_found(catalog: Catalog) -> None:
    with pytest.raises(DeviceNotFoundError, match="/dev/ttyNOPE"):
        async with open_device("serial:///dev/ttyNOPE?model=serial-cushion-z3", catalog=catalog):
            pass
    with pytest.raises(DeviceNotFoundError, match=r"socket://127\.0\.0\.1:1"):
        async with open_device("tcp://127.0.0.1:1?model=serial-cushion-z3", catalog=catalog):
            pass


async def test_no_bluetooth_stack_is_one_clear_connect_error(catalog: Catalog) -> None:
    # this machine has no adapter and no BlueZ: bleak's platform backend cannot start
    with pytest.raises(ConnectError, match="Bluetooth is not available") as info:
        async with open_device("ble://C4:00:00:00:00:01?model=pulse-gun-p5&timeout=2", catalog=catalog):
            pass
    assert "\n" not in str(info.value)


async def _radio(catalog: Catalog, model: str, sim: SimulatedDevice, **kwargs: int) -> BleSimulator:
    profile = catalog.device(model)
    assert profile.ble is not None
    ble = BleProfile.from_catalog(model, profile.ble.model_dump(), serial=sim.firmware.serial)
    return BleSimulator(sim.firmware, ble, **kwargs)


@pytest.mark.looptime
async def test_ble_url_with_injected_backend_and_model_inferred_from_advertisement(catalog: Catalog) -> None:
    loop = asyncio.get_running_loop()
    async with (
        SimulatedDevice(catalog.device("shiatsu-cushion-s3")) as sim,
        await _radio(catalog, "shiatsu-cushion-s3", sim) as radio,
    ):
        central = radio.central
        started = loop.time()
        async with open_device(
            f"ble://{radio.address}?timeout=5",
            catalog=catalog,
            ble_backend=central.client_backend,
            ble_scanner_backend=central.scanner_backend,
        ) as device:
            # the scan stopped at the device's first advertisement (20 ms apart), not after its 5 s
            assert loop.time() - started < 1
            assert device.profile.id == "shiatsu-cushion-s3"
            assert (await device.set_direction("ccw")).direction == "ccw"
            assert sim.firmware.state.direction == "ccw"


def _backends(radio: BleSimulator) -> dict[str, Any]:
    return {"ble_backend": radio.central.client_backend, "ble_scanner_backend": radio.central.scanner_backend}


@pytest.mark.looptime
async def test_ble_url_without_model_needs_an_advertisement_of_a_catalog_model(catalog: Catalog) -> None:
    loop = asyncio.get_running_loop()
    async with (
        SimulatedDevice(catalog.device("shiatsu-cushion-s3")) as sim,
        await _radio(catalog, "shiatsu-cushion-s3", sim) as radio,
    ):
        started = loop.time()
        with pytest.raises(DeviceNotFoundError, match="no advertisement from C4:00:00:00:00:99"):
            async with open_device("ble://C4:00:00:00:00:99?timeout=1", catalog=catalog, **_backends(radio)):
                pass
        assert loop.time() - started == pytest.approx(1, abs=0.1)  # the whole window was scanned
    unknown = dataclasses.replace(radio.profile, local_name="Kettle-7", service_uuid=str(uuid.uuid4()))
    async with (
        SimulatedDevice(catalog.device("shiatsu-cushion-s3")) as sim,
        BleSimulator(sim.firmware, unknown) as radio,
    ):
        with pytest.raises(ConfigError, match="'Kettle-7' matches no catalog model; add \\?model=MODEL"):
            async with open_device(f"ble://{radio.address}?timeout=1", catalog=catalog, **_backends(radio)):
                pass


async def test_ble_url_over_an_hci_port(catalog: Catalog) -> None:
    async with (
        SimulatedDevice(catalog.device("pulse-gun-p5")) as sim,
        await _radio(catalog, "pulse-gun-p5", sim, hci_port=0) as radio,
    ):
        async with open_device(radio.url, catalog=catalog) as device:
            assert device.identity.model_id == "pulse-gun-p5"
            assert (await device.set_intensity(4)).intensity == 4
            assert sim.firmware.state.intensity == 4
        assert sim.firmware.state.intensity == 0


async def test_a_device_of_another_model_is_a_protocol_error(catalog: Catalog) -> None:
    async with (
        SimulatedDevice(catalog.device("pulse-gun-p5")) as sim,
        await _radio(catalog, "pulse-gun-p5", sim) as radio,
    ):
        with pytest.raises(ProtocolError, match="model code 0x11, not shiatsu-cushion-s3"):
            async with open_device(
                f"ble://{radio.address}?model=shiatsu-cushion-s3",
                catalog=catalog,
                ble_backend=radio.central.client_backend,
                ble_scanner_backend=radio.central.scanner_backend,
            ):
                pass
        assert not radio.peripheral.connected


def test_advertisements_match_models_by_name_glob_then_unique_uuid(catalog: Catalog) -> None:
    profiles = list(catalog.devices().values())
    nus = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
    found = model_for_advertisement(profiles, "PulseP5-00042", [nus])
    assert found is not None
    assert found.id == "pulse-gun-p5"
    found = model_for_advertisement(profiles, "ShiatsuS3-7", [])
    assert found is not None
    assert found.id == "shiatsu-cushion-s3"
    # both BLE models share the UART service: a UUID alone does not say which one it is
    assert model_for_advertisement(profiles, "Unknown", [nus]) is None
