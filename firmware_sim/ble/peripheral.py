"""The firmware's BLE face: a GATT server and advertiser on a Bumble device.

The profile's GATT layout carries the firmware's frames (for the reference models one
Nordic-UART-style service; a real product declares its own services): each write on a writable
characteristic is handed to the firmware as one frame, each frame the firmware sends is one
notification on the first notifying characteristic. Models
with a battery also serve the standard Battery Service. Like a typical single-link massager
the peripheral accepts one central at a time and advertises whenever it is free, except while
the firmware's fault injector holds the radio link down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bumble import att, core, data_types, gatt, hci
from bumble.device import AdvertisingParameters, AdvertisingSet, Connection, Device
from bumble.host import Host
from bumble.profiles.battery_service import BatteryService

from firmware_sim.ble.profile import BleProfile, GattCharacteristicLayout

__all__ = ["BleFirmware", "GattPeripheral"]

logger = logging.getLogger(__name__)

# Apple's accessory guideline: advertise every 20 ms for 30 s, so scans and reconnects are quick,
# then slow down to one of its longer intervals to save the battery (and the event loop: a device
# left advertising for an hour of virtual time would otherwise wake it 180,000 times).
_FAST_ADVERTISING_MS = 20.0
_FAST_ADVERTISING_S = 30.0
_SLOW_ADVERTISING_MS = 1022.5
# A Nordic SoftDevice's usual NRF_SDH_BLE_GATT_MAX_MTU_SIZE.
_SERVER_MAX_MTU = 247
# A link lost to the fault injector looks like a supervision timeout to the central.
_LINK_LOST_REASON = hci.HCI_CONNECTION_TIMEOUT_ERROR
_POWER_OFF_REASON = hci.HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR
_BATTERY_UNAVAILABLE = 0x0E  # ATT "unlikely error": the firmware has no battery reading


class _BatteryReading(Protocol):
    @property
    def battery(self) -> int | None: ...


class BleFirmware(Protocol):
    """What the peripheral needs from the firmware (``firmware_sim.Firmware`` provides it)."""

    @property
    def state(self) -> _BatteryReading: ...

    @property
    def link_available(self) -> bool: ...

    def connect(self, send: Callable[[bytes], None]) -> None: ...

    def receive(self, data: bytes) -> None: ...

    def disconnect(self, send: Callable[[bytes], None] | None = None) -> None: ...

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]: ...

    def on_link_drop(self, callback: Callable[[], None]) -> Callable[[], None]: ...

    def on_link_restore(self, callback: Callable[[], None]) -> Callable[[], None]: ...


class GattPeripheral:
    """Serves one firmware instance over GATT through a Bumble host.

    Use ``await start()`` once and ``await aclose()`` when done (idempotent); the simulator
    (``BleSimulator``) does both.
    """

    def __init__(self, firmware: BleFirmware, profile: BleProfile, host: Host) -> None:
        self._firmware = firmware
        self._profile = profile
        # The GAP service copies the name at construction, so the name goes in here.
        self._device = Device(name=profile.local_name, address=hci.Address(profile.address), host=host)
        # Bumble leaves permission checks to the value callbacks: frames come in on writable
        # characteristics only, and go out as notifications only.
        self._services = [
            gatt.Service(service.uuid, [self._characteristic(c) for c in service.characteristics])
            for service in profile.layout()
        ]
        notifying = [c for svc in self._services for c in svc.characteristics if _notifies(c)]
        # The firmware's frames go out on the first notifying characteristic; a device without one
        # reports nothing, and whatever it would send is dropped.
        self._tx: gatt.Characteristic[bytes] | None = notifying[0] if notifying else None
        self._battery = (
            BatteryService(read_battery_level=self._read_battery) if profile.battery_service else None
        )
        self._advertising: AdvertisingSet | None = None
        self._advertising_lock = asyncio.Lock()
        self._interval_ms = _FAST_ADVERTISING_MS
        self._slow_down: asyncio.Task[None] | None = None
        self._connection: Connection | None = None
        self._send: Callable[[bytes], None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._last_battery: int | None = None
        self._link_up = True
        self._closed = False

    @property
    def connected(self) -> bool:
        """Whether a central is connected."""
        return self._connection is not None

    @property
    def advertising(self) -> bool:
        """Whether the peripheral is advertising."""
        return self._advertising is not None and self._advertising.enabled

    async def start(self) -> None:
        """Build the GATT database, power the device on and start advertising."""
        self._device.gatt_server.max_mtu = _SERVER_MAX_MTU
        for service in self._services:
            self._device.add_service(service)
        if self._battery is not None:
            self._device.add_service(self._battery)
        self._device.on(Device.EVENT_CONNECTION, self._on_connection)
        await self._device.power_on()
        self._last_battery = self._firmware.state.battery
        self._unsubscribe = [
            self._firmware.subscribe(self._on_firmware_state),
            self._firmware.on_link_drop(self._on_link_drop),
            self._firmware.on_link_restore(self._on_link_restore),
        ]
        self._link_up = self._firmware.link_available
        self._advertising = await self._device.create_advertising_set(
            advertising_parameters=_advertising_parameters(_FAST_ADVERTISING_MS),
            advertising_data=self._advertising_data(),
            auto_start=False,
        )
        await self._advertise()

    async def aclose(self) -> None:
        """Power off: stop advertising, drop any central, detach from the firmware (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await self._stop_advertising()
        if self._connection is not None:
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
                await self._connection.disconnect(reason=_POWER_OFF_REASON)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _characteristic(self, layout: GattCharacteristicLayout) -> gatt.Characteristic[bytes]:
        props = gatt.Characteristic.Properties(0)
        if layout.write:
            props |= (
                gatt.Characteristic.Properties.WRITE | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE
            )
        if layout.notify:
            props |= gatt.Characteristic.Properties.NOTIFY
        return gatt.Characteristic(
            layout.uuid,
            props,
            gatt.Characteristic.WRITEABLE if layout.write else gatt.Characteristic.Permissions(0),
            gatt.CharacteristicValue(
                read=_refuse_read, write=self._on_rx_write if layout.write else _refuse_write
            ),
        )

    def _advertising_data(self) -> bytes:
        # Extended advertising: name plus a 128-bit UUID is 35 bytes, over legacy's 31.
        fields: list[Any] = [
            data_types.Flags(
                core.AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
                | core.AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
            )
        ]
        if self._profile.local_name:  # some products' names are not known: they show their service only
            fields.append(data_types.CompleteLocalName(self._profile.local_name))
        fields.append(data_types.CompleteListOf128BitServiceUUIDs([core.UUID(self._profile.service_uuid)]))
        return bytes(core.AdvertisingData(fields))

    def _on_connection(self, connection: Connection) -> None:
        if connection.role != hci.Role.PERIPHERAL:
            return
        self._connection = connection
        connection.on(Connection.EVENT_DISCONNECTION, lambda reason: self._on_disconnection(connection))
        outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._send = outbox.put_nowait
        try:
            self._firmware.connect(self._send)
        except ConnectionRefusedError:
            # The fault injector dropped the link as this central came in.
            self._spawn(connection.disconnect(reason=_LINK_LOST_REASON))
            return
        self._pump = self._spawn(self._pump_notifications(connection, outbox))

    def _on_disconnection(self, connection: Connection) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        self._firmware.disconnect(self._send)
        self._send = None
        if self._link_up and not self._closed:
            self._spawn(self._advertise())

    async def _pump_notifications(self, connection: Connection, outbox: asyncio.Queue[bytes]) -> None:
        # The firmware's send() is synchronous; one pump keeps its frames in order.
        while True:
            frame = await outbox.get()
            if self._tx is not None:
                await self._device.notify_subscriber(connection, self._tx, frame)

    def _on_rx_write(self, connection: Connection, value: bytes) -> None:
        if connection is self._connection:
            self._firmware.receive(bytes(value))

    def _read_battery(self, connection: Connection) -> int:
        level = self._firmware.state.battery
        if level is None:
            raise att.ATT_Error(_BATTERY_UNAVAILABLE, message="no battery reading")
        return level

    def _on_firmware_state(self, state: object) -> None:
        level = self._firmware.state.battery
        if self._battery is None or level is None or level == self._last_battery:
            return
        self._last_battery = level
        self._spawn(self._device.notify_subscribers(self._battery.battery_level_characteristic, level))

    def _on_link_drop(self) -> None:
        self._link_up = False
        self._spawn(self._drop_link())

    def _on_link_restore(self) -> None:
        self._link_up = True
        if self._connection is None and not self._closed:
            self._spawn(self._advertise())

    async def _drop_link(self) -> None:
        await self._stop_advertising()
        if self._connection is not None:
            await self._connection.disconnect(reason=_LINK_LOST_REASON)

    # Every change of the advertising set holds the lock, so a slow-down is cancelled only while it
    # sleeps or waits for the lock, never between its stop and its start.

    async def _advertise(self) -> None:
        async with self._advertising_lock:
            advertising = self._advertising
            if advertising is None or advertising.enabled or not self._link_up or self._closed:
                return
            self._cancel_slow_down()
            await self._set_interval(advertising, _FAST_ADVERTISING_MS)
            await advertising.start()
            self._slow_down = self._spawn(self._slow_down_later(advertising))

    async def _slow_down_later(self, advertising: AdvertisingSet) -> None:
        await asyncio.sleep(_FAST_ADVERTISING_S)
        async with self._advertising_lock:
            self._slow_down = None
            if not advertising.enabled:
                return
            # The controller takes new parameters only while the set is disabled.
            await advertising.stop()
            await self._set_interval(advertising, _SLOW_ADVERTISING_MS)
            if self._connection is None and self._link_up and not self._closed:
                await advertising.start()

    async def _set_interval(self, advertising: AdvertisingSet, interval_ms: float) -> None:
        if self._interval_ms != interval_ms:
            await advertising.set_advertising_parameters(_advertising_parameters(interval_ms))
            self._interval_ms = interval_ms

    def _cancel_slow_down(self) -> None:
        task, self._slow_down = self._slow_down, None
        if task is not None:
            task.cancel()

    async def _stop_advertising(self) -> None:
        async with self._advertising_lock:
            self._cancel_slow_down()
            if self._advertising is not None and self._advertising.enabled:
                await self._advertising.stop()

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("BLE peripheral task failed: %r", error, exc_info=error)


def _advertising_parameters(interval_ms: float) -> AdvertisingParameters:
    return AdvertisingParameters(
        primary_advertising_interval_min=interval_ms, primary_advertising_interval_max=interval_ms
    )


def _refuse_read(connection: Connection) -> bytes:
    raise att.ATT_Error(att.ATT_READ_NOT_PERMITTED_ERROR, message="not readable")


def _refuse_write(connection: Connection, value: bytes) -> None:
    raise att.ATT_Error(att.ATT_WRITE_NOT_PERMITTED_ERROR, message="not writable")


def _notifies(characteristic: gatt.Characteristic[bytes]) -> bool:
    return bool(characteristic.properties & gatt.Characteristic.Properties.NOTIFY)
