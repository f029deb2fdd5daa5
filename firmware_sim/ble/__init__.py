"""BLE front-end of the firmware simulator.

* ``BleSimulator`` serves a firmware as a GATT peripheral on a virtual radio, with an
  in-process central (``radio.central``) and optionally an HCI port for other processes.
* ``serve_ble`` runs one for ``massager-sim serve`` and yields the ``ble://`` URL to print.

The bleak backends over a Bumble central live with the controller's transports
(:mod:`massager_ctl.transports.bumble`); they are re-exported here because the simulator
builds the central its radio's clients use and hands its backends to the BLE transport.
"""

from firmware_sim.ble.peripheral import BleFirmware, GattPeripheral
from firmware_sim.ble.profile import BleProfile
from firmware_sim.ble.radio import BleSimulator, serve_ble
from massager_ctl.transports.bumble import (
    BumbleCentral,
    BumbleClientBackend,
    BumbleScannerBackend,
    bumble_central,
)

__all__ = [
    "BleFirmware",
    "BleProfile",
    "BleSimulator",
    "BumbleCentral",
    "BumbleClientBackend",
    "BumbleScannerBackend",
    "GattPeripheral",
    "bumble_central",
    "serve_ble",
]
