"""BLE transport: an unmodified ``bleak.BleakClient`` on the model's GATT characteristics.

Frames are written to the model's write characteristic and arrive as notifications
on its notify characteristic, turned here into an async stream. The link is made by
bleak-retry-connector's ``establish_connection``, which retries the failures a BLE
connect is known for (a busy adapter, a device still dropping the last link). It
connects a ``BLEDevice``: given an address, the transport first finds the device by
scanning. The bleak backends are injectable (``backend=``, ``scanner_backend=``; a
Bumble central's, for a USB dongle or the simulator's virtual radio); the default is
bleak's platform backend. Any foreign failure comes out as the project's error tree.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDeviceNotFoundError, BleakError
from bleak_retry_connector import BleakNotFoundError, establish_connection

from massager_ctl.errors import ConnectError, DeviceNotFoundError, LinkLostError
from massager_ctl.models.device import BleSpec
from massager_ctl.transports.base import Transport

_DISCONNECTED = b""
"""Queue marker for a dropped link (a real notification is never empty: a frame has 5+ bytes)."""


def _unavailable(e: BaseException) -> ConnectError:
    # bleak's BleakBluetoothNotAvailableError carries (message, reason): show the message only
    detail = e.args[0] if isinstance(e, BleakBluetoothNotAvailableError) and e.args else e
    return ConnectError(f"Bluetooth is not available on this machine (no adapter or BlueZ/D-Bus): {detail}")


def _causes(e: BaseException) -> list[BaseException]:
    # bleak-retry-connector raises its own error after the last attempt, the real one as its cause
    chain = [e]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    return chain


def _translate_open(e: BaseException, where: str) -> ConnectError:
    chain = _causes(e)
    for cause in chain:
        if isinstance(cause, BleakBluetoothNotAvailableError | FileNotFoundError | ConnectionRefusedError):
            return _unavailable(cause)
    if any(isinstance(c, BleakDeviceNotFoundError | BleakNotFoundError) for c in chain):
        return DeviceNotFoundError(f"no BLE device answered at {where}")
    if any(isinstance(c, TimeoutError) for c in chain):
        return DeviceNotFoundError(f"no BLE device answered at {where} in time")
    return ConnectError(f"cannot connect to {where}: {chain[-1]}")


class BleTransport(Transport):
    """One GATT link through ``bleak.BleakClient``.

    Args:
        device: the device as a scan found it, or its Bluetooth address (or platform id),
            which is looked up by scanning on every open.
        spec: the model's GATT layout.
        backend: a bleak client backend class; ``None`` is bleak's platform backend.
        scanner_backend: the bleak scanner backend that finds an address; ``None`` is the platform's.
        timeout: connect timeout in seconds (and how long a scan looks for an address).
        client_kwargs: further ``BleakClient`` keyword arguments (``bluez={"adapter": "hci1"}``).
    """

    message_oriented = True

    def __init__(
        self,
        device: BLEDevice | str,
        spec: BleSpec,
        *,
        backend: type[BaseBleakClient] | None = None,
        scanner_backend: type[BaseBleakScanner] | None = None,
        timeout: float = 10.0,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._device = device
        self._address = device.address if isinstance(device, BLEDevice) else device
        self._spec = spec
        self._backend = backend
        self._scanner_backend = scanner_backend
        self._timeout = timeout
        self._client_kwargs = client_kwargs or {}
        self._client: BleakClient | None = None
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._closed = False

    @property
    def description(self) -> str:
        return f"BLE device {self._address}"

    async def open(self) -> None:
        device = self._device if isinstance(self._device, BLEDevice) else await self._find()
        try:
            client = await establish_connection(
                BleakClient,
                device,
                self.description,
                disconnected_callback=self._on_disconnect,
                timeout=self._timeout,
                backend=self._backend,
                **self._client_kwargs,
            )
        except (BleakError, OSError, TimeoutError) as e:
            raise _translate_open(e, self.description) from e
        self._client = client
        try:
            # a silent device (no feedback at all) has nothing to subscribe to
            if self._spec.notify_uuid is not None:
                await client.start_notify(self._spec.notify_uuid, self._on_notify)
        except (BleakError, OSError, TimeoutError) as e:
            await self.close()
            raise ConnectError(f"{self.description} has no usable notify characteristic: {e}") from e

    async def _find(self) -> BLEDevice:
        try:
            if self._scanner_backend is None:
                found = await BleakScanner.find_device_by_address(self._address, timeout=self._timeout)
            else:
                found = await BleakScanner.find_device_by_address(
                    self._address, timeout=self._timeout, backend=self._scanner_backend
                )
        except (BleakError, OSError, TimeoutError) as e:
            raise _translate_open(e, self.description) from e
        if found is None:
            raise DeviceNotFoundError(f"no BLE device answered at {self.description} in time")
        return found

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._inbox.put_nowait(_DISCONNECTED)
        client, self._client = self._client, None
        if client is not None:
            # the link may already be gone; closing is best effort by design
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                await client.disconnect()

    async def send(self, data: bytes) -> None:
        client = self._client
        if client is None or not client.is_connected:
            raise LinkLostError(f"{self.description} is not connected")
        try:
            await client.write_gatt_char(self._spec.write_uuid, data, response=self._spec.write_with_response)
        except (BleakError, OSError, TimeoutError) as e:
            raise LinkLostError(f"write to {self.description} failed: {e}") from e

    async def recv(self) -> bytes:
        data = await self._inbox.get()
        if data == _DISCONNECTED:
            self._inbox.put_nowait(_DISCONNECTED)  # later readers see the loss too
            raise LinkLostError(f"{self.description} disconnected")
        return data

    def _on_notify(self, _characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
        if data:
            self._inbox.put_nowait(bytes(data))

    def _on_disconnect(self, _client: BleakClient) -> None:
        self._inbox.put_nowait(_DISCONNECTED)


@dataclass(frozen=True, slots=True)
class Advertisement:
    """One BLE device seen while scanning."""

    address: str
    name: str | None
    service_uuids: Sequence[str]
    rssi: int
    device: BLEDevice
    """What to hand to :class:`BleTransport` to connect without scanning again."""


async def discover(
    *,
    scan_s: float = 5.0,
    backend: type[BaseBleakScanner] | None = None,
    until: Callable[[Advertisement], bool] | None = None,
) -> list[Advertisement]:
    """Scan for BLE advertisements: the latest one of each device seen.

    Args:
        scan_s: how long to scan.
        backend: a bleak scanner backend (default: the platform's).
        until: stop early at the first advertisement this accepts.

    Raises:
        ConnectError: Bluetooth is not available (no adapter, no BlueZ).
    """
    seen: dict[str, Advertisement] = {}
    found = asyncio.Event()

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        seen[device.address] = heard = Advertisement(
            device.address, adv.local_name or device.name, list(adv.service_uuids), adv.rssi, device=device
        )
        if until is not None and until(heard):
            found.set()

    options: dict[str, Any] = {} if backend is None else {"backend": backend}
    try:
        async with BleakScanner(detection_callback=on_advertisement, **options):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(scan_s):
                    await found.wait()
    except (BleakError, OSError) as e:
        if isinstance(e, BleakBluetoothNotAvailableError | FileNotFoundError | ConnectionRefusedError):
            raise _unavailable(e) from e
        raise ConnectError(f"BLE scan failed: {e}") from e
    return list(seen.values())
