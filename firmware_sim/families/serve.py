"""Serve a real product's simulated firmware on the product's own transport, for another process."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from firmware_sim.families.core import ProductFaults, ProductFirmware
from firmware_sim.families.registry import firmware_for
from firmware_sim.serial_link import PtyFrontEnd
from massager_ctl.errors import ConfigError
from massager_ctl.models import DeviceProfile


def unit_serial(model_id: str) -> str:
    """A stable 8-character unit serial per model (it shows in BLE names such as ``base-i4.1A2B``)."""
    return hashlib.sha256(model_id.encode()).hexdigest()[:8].upper()


@contextlib.asynccontextmanager
async def serve_product(
    profile: DeviceProfile, *, speed: float = 1.0, faults: ProductFaults | None = None, hci_port: int = 0
) -> AsyncIterator[tuple[ProductFirmware, str]]:
    """Run the product's firmware and serve it: a BLE peripheral with an HCI port, or a pty.

    Yields the firmware and the URL to print (``ble://…&hci=…`` or ``serial:///dev/pts/N?model=…``).

    Raises:
        ConfigError: not a real product, or the BLE front-end (Bumble) is not installed.
        OSError: the HCI port could not be bound or no pty could be created.
    """
    async with firmware_for(profile, speed=speed, faults=faults) as firmware:
        if profile.ble is not None:
            try:
                from firmware_sim.ble import BleProfile, serve_ble
            except ImportError as e:
                raise ConfigError(
                    f"the BLE front-end is not available ({e}); install massager-ctl[sim]"
                ) from e
            ble = BleProfile.for_product(profile.id, profile.ble.model_dump(), serial=unit_serial(profile.id))
            async with serve_ble(firmware, ble, hci_port=hci_port) as url:
                yield firmware, url
            return
        front = PtyFrontEnd(firmware)
        path = front.open()
        try:
            yield firmware, f"serial://{path}?model={profile.id}"
        finally:
            front.close()


def state_dict(state: Any) -> dict[str, Any]:
    """A product firmware's state as JSON-ready data."""
    data: dict[str, Any] = dataclasses.asdict(state)
    data.pop("battery", None)
    return data
