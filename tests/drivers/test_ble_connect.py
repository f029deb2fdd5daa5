"""BleTransport on the Bumble virtual radio: a BLEDevice or an address; bleak-retry-connector's retries."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from bleak.exc import BleakError

from firmware_sim import SimulatedDevice
from firmware_sim.ble import BleProfile, BleSimulator, BumbleClientBackend
from massager_ctl.catalog import Catalog
from massager_ctl.drivers import MassagerDriver
from massager_ctl.errors import DeviceNotFoundError
from massager_ctl.transports.ble import BleTransport, discover

GUN = "pulse-gun-p5"

# the Bumble radio is in memory: scans, connects and retries run in virtual time
pytestmark = pytest.mark.looptime


def _radio(catalog: Catalog, sim: SimulatedDevice) -> BleSimulator:
    spec = sim.profile.ble
    assert spec is not None
    profile = BleProfile.from_catalog(GUN, spec.model_dump(), serial=sim.firmware.serial)
    return BleSimulator(sim.firmware, profile)


async def test_a_scanned_ble_device_connects_without_scanning_again(catalog: Catalog) -> None:
    profile = catalog.device(GUN)
    assert profile.ble is not None
    async with SimulatedDevice(profile) as sim, _radio(catalog, sim) as radio:
        seen = await discover(
            scan_s=2.0, backend=radio.central.scanner_backend, until=lambda adv: adv.address == radio.address
        )
        found = next(a for a in seen if a.address == radio.address)
        # no scanner backend: a platform scan would fail on this machine, so none may happen
        transport = BleTransport(found.device, profile.ble, backend=radio.central.client_backend)
        async with MassagerDriver(profile, transport) as device:
            assert (await device.set_intensity(3)).intensity == 3
            assert sim.firmware.state.intensity == 3


async def test_an_address_is_found_by_a_scan_and_an_absent_one_is_not_found(catalog: Catalog) -> None:
    profile = catalog.device(GUN)
    assert profile.ble is not None
    async with SimulatedDevice(profile) as sim, _radio(catalog, sim) as radio:
        backends: dict[str, Any] = {
            "backend": radio.central.client_backend,
            "scanner_backend": radio.central.scanner_backend,
        }
        async with MassagerDriver(profile, BleTransport(radio.address, profile.ble, **backends)) as device:
            assert (await device.set_intensity(2)).intensity == 2
        absent = BleTransport("C4:00:00:00:00:99", profile.ble, timeout=0.5, **backends)
        missing = "no BLE device answered at BLE device C4:00:00:00:00:99 in time"
        with pytest.raises(DeviceNotFoundError, match=missing):
            await absent.open()


async def test_a_transient_connect_failure_is_retried_by_bleak_retry_connector(catalog: Catalog) -> None:
    profile = catalog.device(GUN)
    assert profile.ble is not None
    async with SimulatedDevice(profile) as sim, _radio(catalog, sim) as radio:
        bound = radio.central.client_backend

        class Flaky(bound):  # type: ignore[valid-type,misc]
            attempts: ClassVar[int] = 0

            async def connect(self, pair: bool, **kwargs: Any) -> None:
                type(self).attempts += 1
                if type(self).attempts == 1:  # what BlueZ says when the controller drops an attempt
                    raise BleakError("le-connection-abort-by-local")
                await super().connect(pair, **kwargs)

        assert issubclass(Flaky, BumbleClientBackend)
        transport = BleTransport(
            radio.address, profile.ble, backend=Flaky, scanner_backend=radio.central.scanner_backend
        )
        async with MassagerDriver(profile, transport) as device:
            assert (await device.set_intensity(4)).intensity == 4
        assert Flaky.attempts == 2
