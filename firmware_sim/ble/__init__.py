"""BLE front-end of the firmware simulator, and bleak backends over a Bumble central.

* ``BleSimulator`` serves a firmware as a GATT peripheral on a virtual radio, with an
  in-process central (``radio.central``) and optionally an HCI port for other processes.
* ``serve_ble`` runs one for ``massager-sim serve`` and yields the ``ble://`` URL to print.
* ``bumble_central(hci=...)`` opens a central over any Bumble HCI transport (the simulator's
  port, a USB dongle); ``central.client_backend`` / ``central.scanner_backend`` go to
  ``BleakClient(..., backend=...)`` / ``BleakScanner(backend=...)`` unchanged.
"""

from firmware_sim.ble.bleak_client import BumbleClientBackend
from firmware_sim.ble.bleak_scanner import BumbleScannerBackend
from firmware_sim.ble.central import BumbleCentral, bumble_central
from firmware_sim.ble.peripheral import BleFirmware, GattPeripheral
from firmware_sim.ble.profile import BleProfile
from firmware_sim.ble.radio import BleSimulator, serve_ble

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
