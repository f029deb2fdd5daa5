"""``massager-ctl devices try`` and ``devices scan``: the smoke test a person runs on new hardware."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from firmware_sim import SimulatedDevice
from firmware_sim.ble import BleProfile, BleSimulator
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import exercise, scan
from massager_ctl.protocol import SetHeat, SetIntensity, Stop
from tests.drivers.driver_support import FirmwareTap, sim_device


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MASSAGER_CONFIG": "/nonexistent/config.toml", "XDG_CONFIG_HOME": "/nonexistent"}
    return subprocess.run(
        [sys.executable, "-m", "massager_ctl", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.slow
@pytest.mark.parametrize("model", ["pulse-gun-p5", "shiatsu-cushion-s3", "serial-cushion-z3"])
def test_devices_try_runs_on_each_model_and_ends_with_a_confirmed_stop(model: str) -> None:
    result = run_cli("devices", "try", f"sim://{model}", "--dwell", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("connected: ")
    assert f"({model}, code 0x" in lines[0]
    assert lines[1].startswith("battery: ")
    assert lines[-1].startswith("stopped (confirmed): motor off, intensity 0, heat 0")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("bogus://x", 2, "expected one of: serial:///dev/ttyUSB0?model=MODEL"),
        ("serial:///dev/ttyNOPE?model=serial-cushion-z3", 1, "error: cannot open serial port /dev/ttyNOPE"),
        ("ble://C4:00:00:00:00:01?model=pulse-gun-p5&timeout=2", 1, "error: Bluetooth is not available"),
    ],
)
def test_devices_try_failures_are_one_line_with_exit_codes(url: str, code: int, message: str) -> None:
    result = run_cli("devices", "try", url)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_exercise_steps_every_zone_intensity_and_heat_then_stops(catalog: Catalog) -> None:
    lines: list[str] = []
    async with sim_device("sim://serial-cushion-z3?link=pty", catalog=catalog) as (device, sim):
        tap = FirmwareTap(sim.firmware)
        state = await exercise(device, dwell_s=0, echo=lines.append)
        assert state.safe
        assert sim.firmware.state.intensity == 0
        assert sim.firmware.state.heat == 0
    assert [line.split(":")[0] for line in lines[3:]] == [
        "head upper",
        "head middle",
        "head lower",
        "intensity 1",
        "intensity 5",
        "intensity 10",
        "heat low",
        "heat high",
        "stopped (confirmed)",
    ]
    assert {c.level for c in tap.of(SetIntensity)} == {0, 1, 5, 10}
    assert [c.level for c in tap.of(SetHeat)] == [1, 2]
    assert tap.count(Stop) >= 1


async def test_scan_finds_a_ble_model_through_an_hci_port(catalog: Catalog) -> None:
    profile = catalog.device("pulse-gun-p5")
    assert profile.ble is not None
    warnings: list[str] = []
    async with SimulatedDevice(profile) as sim:
        ble = BleProfile.from_catalog(profile.id, profile.ble.model_dump(), serial=sim.firmware.serial)
        async with BleSimulator(sim.firmware, ble, hci_port=0) as radio:
            found = await scan(catalog, scan_s=0.5, hci=radio.hci_transport, warn=warnings.append)
    ble_found = [f for f in found if f.transport == "ble"]
    assert [f.url for f in ble_found] == [f"ble://{radio.address}?model=pulse-gun-p5"]
    assert ble_found[0].name == ble.local_name
    assert warnings == []


async def test_scan_without_bluetooth_warns_and_still_lists_serial_ports(catalog: Catalog) -> None:
    warnings: list[str] = []
    found = await asyncio.wait_for(scan(catalog, scan_s=0.5, hci=None, warn=warnings.append), 10)
    assert all(f.transport == "serial" for f in found)
    assert len(warnings) == 1
    assert warnings[0].startswith("BLE scan skipped: Bluetooth is not available")
