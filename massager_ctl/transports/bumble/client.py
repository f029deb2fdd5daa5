"""A bleak client backend that speaks real ATT through a Bumble central.

Use the class bound to a central, never this base directly::

    BleakClient(address_or_device, backend=central.client_backend)

Connecting exchanges the MTU and discovers every service, characteristic and descriptor;
``start_notify`` writes the CCCD; reads and writes are ATT requests and commands. A
disconnect from either side schedules bleak's ``disconnected_callback``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES, CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, gatt
from bumble.device import Connection
from bumble.gatt_client import CharacteristicProxy
from bumble.hci import Address, HCI_Error

if TYPE_CHECKING:
    from massager_ctl.transports.bumble.central import BumbleCentral

__all__ = ["BumbleClientBackend", "bumble_uuid_str"]

# What BlueZ asks for; the peripheral answers with its own limit.
_CLIENT_MTU = 517
_ATT_HEADER = 3


def bumble_uuid_str(value: core.UUID) -> str:
    """A Bumble UUID as bleak's lower-case 128-bit string."""
    return str(uuid.UUID(bytes=value.to_bytes(force_128=True)[::-1]))


class BumbleClientBackend(BaseBleakClient):
    """``BaseBleakClient`` over a Bumble central (see ``BumbleCentral.client_backend``).

    Raises:
        BleakError: The class is not bound to a central, or the address is not a Bluetooth
            address.
    """

    central: ClassVar[BumbleCentral | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        services: set[str] | None = None,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        central = type(self).central
        if central is None:
            raise BleakError("BumbleClientBackend is unbound: pass backend=<BumbleCentral>.client_backend")
        self._radio = central
        self._advertised_name: str | None = None
        details = address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        if isinstance(address_or_ble_device, BLEDevice) and isinstance(details, Address):
            self._peer = details
            self._advertised_name = address_or_ble_device.name
        else:
            try:
                self._peer = Address(self.address)
            except (ValueError, core.BaseBumbleError) as e:
                raise BleakError(f"not a Bluetooth address: {self.address!r}") from e
        self._service_filter = [core.UUID(s) for s in services] if services else []
        self._device_name: str | None = None
        self._connection: Connection | None = None
        self._disconnected: asyncio.Event | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        """The GAP Device Name read at connect, else the advertised name, else the address."""
        return self._device_name or self._advertised_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU (23 until the exchange is done)."""
        return self._connection.att_mtu if self._connection is not None else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """Whether the ACL link is up."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU and discover the GATT database.

        Raises:
            BleakDeviceNotFoundError: The device did not advertise within the timeout.
            BleakBluetoothNotAvailableError: The central's HCI transport is gone.
            BleakGATTProtocolError: The peripheral answered discovery with an ATT error.
            BleakError: The link failed or dropped during setup.
            TimeoutError: Setup took longer than the timeout.
        """
        if self._connection is not None:
            return
        try:
            connection = await self._radio.connect(self._peer, wait_s=self._timeout)
        except core.TimeoutError as e:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found advertising."
            ) from e
        except (core.BaseBumbleError, HCI_Error) as e:
            raise BleakError(f"connecting to {self.address} failed: {e}") from e
        self._connection = connection
        self._disconnected = asyncio.Event()
        connection.on(Connection.EVENT_DISCONNECTION, lambda reason: self._on_disconnection(connection))
        try:
            async with asyncio.timeout(self._timeout), self._translated("connect"):
                if pair:
                    await connection.pair()
                await connection.gatt_client.request_mtu(_CLIENT_MTU)
                self.services = await self._discover(connection)
                self._device_name = await self._read_device_name(connection)
        except BaseException:
            await self._drop(connection)
            raise

    async def disconnect(self) -> None:
        """Disconnect; returns once the link is down and the callback has run."""
        connection, disconnected = self._connection, self._disconnected
        if connection is None or disconnected is None:
            return
        await self._drop(connection)
        await disconnected.wait()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (LE Secure Connections, Just Works unless the peripheral asks for more).

        Raises:
            BleakError: Not connected or pairing failed.
        """
        connection = self._require_connection()
        async with self._translated("pairing"):
            await connection.pair()

    async def unpair(self) -> None:
        """Forget the bonding keys for this peer and disconnect."""
        keystore = self._radio.device.keystore
        if keystore is not None:
            await keystore.delete(str(self._peer))
        await self.disconnect()

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value (ATT Read, Read Blob for long values).

        Raises:
            BleakGATTProtocolError: The peripheral answered with an ATT error.
            BleakError: Not connected, or the link dropped.
        """
        return await self._read(characteristic.handle, use_cached, f"reading {characteristic.uuid}")

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value.

        Raises:
            BleakGATTProtocolError: The peripheral answered with an ATT error.
            BleakError: Not connected, or the link dropped.
        """
        return await self._read(descriptor.handle, use_cached, f"reading descriptor {descriptor.uuid}")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write with response (ATT Write Request) or without (ATT Write Command).

        Raises:
            BleakGATTProtocolError: The peripheral refused a write with response.
            BleakError: Not connected, the link dropped, or a write without response does not
                fit the MTU.
        """
        connection = self._require_connection()
        value = bytes(data)
        limit = connection.att_mtu - _ATT_HEADER
        if not response and len(value) > limit:
            raise BleakError(f"{len(value)} bytes exceed max_write_without_response_size {limit}")
        async with self._translated(f"writing {characteristic.uuid}"):
            await connection.gatt_client.write_value(characteristic.handle, value, with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """Write a descriptor value (always with response).

        Raises:
            BleakGATTProtocolError: The peripheral refused the write.
            BleakError: Not connected, or the link dropped.
        """
        connection = self._require_connection()
        async with self._translated(f"writing descriptor {descriptor.uuid}"):
            await connection.gatt_client.write_value(descriptor.handle, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications (indications if that is all it has) by writing the CCCD.

        Raises:
            BleakError: Not connected, the characteristic cannot notify, or the link dropped.
            BleakGATTProtocolError: The peripheral refused the CCCD write.
        """
        connection = self._require_connection()
        proxy = self._proxy(characteristic)
        if proxy.get_descriptor(gatt.GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR) is None:
            raise BleakError(f"characteristic {characteristic.uuid} has no CCCD: it cannot notify")

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        async with self._translated(f"subscribing to {characteristic.uuid}"):
            await connection.gatt_client.subscribe(proxy, deliver, prefer_notify=True)
        self._subscribers[characteristic.handle] = deliver

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications by clearing the CCCD.

        Raises:
            BleakError: Not connected, or the link dropped.
            BleakGATTProtocolError: The peripheral refused the CCCD write.
        """
        connection = self._require_connection()
        subscriber = self._subscribers.pop(characteristic.handle, None)
        if subscriber is None:
            return
        async with self._translated(f"unsubscribing from {characteristic.uuid}"):
            await connection.gatt_client.unsubscribe(self._proxy(characteristic), subscriber)

    async def _read(self, handle: int, use_cached: bool, what: str) -> bytearray:
        connection = self._require_connection()
        if use_cached and (cached := connection.gatt_client.cached_values.get(handle)) is not None:
            return bytearray(cached[1])
        async with self._translated(what):
            return bytearray(await connection.gatt_client.read_value(handle))

    async def _discover(self, connection: Connection) -> BleakGATTServiceCollection:
        client = connection.gatt_client
        collection = BleakGATTServiceCollection()

        def max_write_without_response() -> int:
            return connection.att_mtu - _ATT_HEADER

        for service in await client.discover_services(self._service_filter):
            bleak_service = BleakGATTService(service, service.handle, bumble_uuid_str(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in await client.discover_characteristics((), service):
                bleak_characteristic = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    bumble_uuid_str(characteristic.uuid),
                    _property_names(int(characteristic.properties)),
                    max_write_without_response,
                    bleak_service,
                )
                collection.add_characteristic(bleak_characteristic)
                for descriptor in await client.discover_descriptors(characteristic):
                    descriptor_uuid = bumble_uuid_str(descriptor.type)
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, descriptor_uuid, bleak_characteristic
                        )
                    )
        return collection

    async def _read_device_name(self, connection: Connection) -> str | None:
        names = connection.gatt_client.get_characteristics_by_uuid(gatt.GATT_DEVICE_NAME_CHARACTERISTIC)
        if not names:
            return None
        return (await connection.gatt_client.read_value(names[0].handle)).decode("utf-8", errors="replace")

    async def _drop(self, connection: Connection) -> None:
        if self._connection is not connection:
            return
        try:
            await connection.disconnect()
        except (core.BaseBumbleError, HCI_Error) as e:
            # The peer may have dropped the link first; only a live link is an error.
            if self._connection is connection:
                raise BleakError(f"disconnecting from {self.address} failed: {e}") from e

    def _on_disconnection(self, connection: Connection) -> None:
        if self._connection is not connection:
            return
        self._connection = None
        self.services = None
        self._subscribers.clear()
        disconnected = self._disconnected
        # Scheduled, as bleak documents; disconnect() returns only after it ran.
        asyncio.get_running_loop().call_soon(self._fire_disconnected, disconnected)

    def _fire_disconnected(self, disconnected: asyncio.Event | None) -> None:
        try:
            if self._disconnected_callback is not None:
                self._disconnected_callback()
        finally:
            if disconnected is not None:
                disconnected.set()

    def _require_connection(self) -> Connection:
        if self._connection is None:
            raise BleakError("Not connected")
        return self._connection

    @staticmethod
    def _proxy(characteristic: BleakGATTCharacteristic) -> CharacteristicProxy[bytes]:
        proxy = characteristic.obj
        if not isinstance(proxy, CharacteristicProxy):
            raise BleakError(f"characteristic {characteristic.uuid} was not discovered by this backend")
        return proxy

    @contextlib.asynccontextmanager
    async def _translated(self, what: str) -> AsyncIterator[None]:
        try:
            yield
        except att.ATT_Error as e:
            raise BleakGATTProtocolError(e.error_code) from e
        except core.TimeoutError as e:
            raise TimeoutError(f"{what}: no ATT response from {self.address}") from e
        except (core.BaseBumbleError, HCI_Error) as e:
            raise BleakError(f"{what} failed: {e}") from e
        except asyncio.CancelledError:
            # Bumble cancels a pending ATT request when the link drops; that is not a
            # cancellation of the caller's task and must not look like one.
            task = asyncio.current_task()
            if self._connection is None and task is not None and task.cancelling() == 0:
                raise BleakError(f"{what}: {self.address} disconnected") from None
            raise


def _property_names(properties: int) -> list[CharacteristicPropertyName]:
    return [name for bit, name in CHARACTERISTIC_PROPERTIES.items() if bit <= 0x80 and properties & bit]
