"""A Bumble host in the central role, shared by bleak clients and scanners built on it.

``BumbleCentral`` wraps a powered-on Bumble ``Device``. Its ``client_backend`` and
``scanner_backend`` are bleak backend classes bound to it, so an unmodified bleak API works
over any HCI controller Bumble can open::

    async with bumble_central(hci="tcp-client:127.0.0.1:9000") as central:
        async with BleakClient(address, backend=central.client_backend) as client:
            ...

In-process the simulator builds its own central on the virtual radio (``BleSimulator.central``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from functools import cached_property

from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason
from bumble import core
from bumble.device import Advertisement, Connection, Device
from bumble.hci import (
    HCI_CONNECTION_TIMEOUT_ERROR,
    Address,
    HCI_Error,
    HCI_LE_Create_Connection_Cancel_Command,
)
from bumble.host import Host
from bumble.transport import open_transport
from bumble.transport.common import BaseSource

from massager_ctl.transports.bumble.client import BumbleClientBackend
from massager_ctl.transports.bumble.scanner import BumbleScannerBackend

__all__ = ["BumbleCentral", "bumble_central"]

logger = logging.getLogger(__name__)

AdvertisementListener = Callable[[Advertisement], None]

# A controller that does not answer HCI Reset within this is not a controller.
_POWER_ON_TIMEOUT_S = 5.0


class BumbleCentral:
    """A powered-on Bumble device acting as central for bleak backends.

    Connections are made one at a time (an LE controller has one initiator); scanning is
    shared and runs while at least one scanner listens.

    Args:
        device: A Bumble device, already powered on.
        transport_lost: Completes if the HCI transport under ``device`` goes away (a dongle
            pulled out, the simulator process gone).
    """

    def __init__(self, device: Device, *, transport_lost: asyncio.Future[None] | None = None) -> None:
        self._device = device
        self._connect_lock = asyncio.Lock()
        self._listeners: list[AdvertisementListener] = []
        self._scan_lock = asyncio.Lock()
        self._lost = False
        device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        if transport_lost is not None:
            transport_lost.add_done_callback(lambda _: self._on_transport_lost())

    @property
    def device(self) -> Device:
        """The underlying Bumble device."""
        return self._device

    @cached_property
    def client_backend(self) -> type[BumbleClientBackend]:
        """A ``BleakClient`` backend class bound to this central (``backend=`` this)."""
        return type("BumbleClientBackend", (BumbleClientBackend,), {"central": self})

    @cached_property
    def scanner_backend(self) -> type[BumbleScannerBackend]:
        """A ``BleakScanner`` backend class bound to this central (``backend=`` this)."""
        return type("BumbleScannerBackend", (BumbleScannerBackend,), {"central": self})

    async def connect(self, address: Address, *, wait_s: float) -> Connection:
        """Connect to a peripheral once it is seen advertising.

        A caller that is cancelled mid-attempt leaves nothing behind: the controller stops
        initiating, and a link it completed meanwhile is dropped, so the peripheral is free.

        Raises:
            BleakBluetoothNotAvailableError: The HCI transport is gone.
            bumble.core.TimeoutError: It did not advertise within ``wait_s`` seconds.
            bumble.core.BaseBumbleError: The controller refused.
        """
        self._check_transport()
        async with self._connect_lock:
            before = set(self._device.connections)
            try:
                return await self._device.connect(address, timeout=wait_s)
            except asyncio.CancelledError:
                await asyncio.shield(self._abandon(address, before))
                raise

    async def _abandon(self, address: Address, before: set[int]) -> None:
        # Bumble's own connect forgets the attempt when cancelled but the controller does not.
        with contextlib.suppress(core.BaseBumbleError, HCI_Error):
            await self._device.send_sync_command(HCI_LE_Create_Connection_Cancel_Command())
        # The cancel's Command Complete follows any Connection Complete sent before it.
        for handle, connection in list(self._device.connections.items()):
            if handle not in before and bytes(connection.peer_address) == bytes(address):
                with contextlib.suppress(core.BaseBumbleError, HCI_Error):
                    await connection.disconnect()

    async def add_listener(self, listener: AdvertisementListener) -> None:
        """Deliver every advertisement to ``listener``, scanning while anyone listens.

        Raises:
            BleakBluetoothNotAvailableError: The HCI transport is gone.
        """
        self._check_transport()
        async with self._scan_lock:
            self._listeners.append(listener)
            if not self._device.is_scanning:
                await self._device.start_scanning(filter_duplicates=False)

    async def remove_listener(self, listener: AdvertisementListener) -> None:
        """Stop delivering to ``listener``; the last one out stops the scan."""
        async with self._scan_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
            if not self._listeners and self._device.is_scanning and not self._lost:
                await self._device.stop_scanning()

    async def aclose(self) -> None:
        """Disconnect every link this central holds (idempotent)."""
        self._listeners.clear()
        if self._lost:
            return
        for connection in list(self._device.connections.values()):
            with contextlib.suppress(core.BaseBumbleError, HCI_Error):
                await connection.disconnect()

    def _check_transport(self) -> None:
        if self._lost:
            raise BleakBluetoothNotAvailableError(
                "the Bluetooth controller's HCI transport is gone",
                BleakBluetoothNotAvailableReason.NO_BLUETOOTH,
            )

    def _on_transport_lost(self) -> None:
        # No controller is left to report it, so every link ends here, as a supervision
        # timeout would end it; bleak clients get their disconnected callback.
        self._lost = True
        self._listeners.clear()
        for handle in list(self._device.connections):
            self._device.on_disconnection(handle, HCI_CONNECTION_TIMEOUT_ERROR)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._listeners):
            listener(advertisement)


@contextlib.asynccontextmanager
async def bumble_central(*, hci: str) -> AsyncIterator[BumbleCentral]:
    """Open a Bumble host on an HCI transport and yield a central on it.

    ``hci`` is any Bumble transport spec, e.g. ``tcp-client:127.0.0.1:9000`` for the
    simulator's HCI server, or ``usb:0`` for a real dongle.

    Raises:
        BleakBluetoothNotAvailableError: The transport cannot be opened or no controller
            answers on it.
    """
    try:
        transport = await open_transport(hci)
    except (OSError, ImportError, ValueError, core.BaseBumbleError) as e:
        raise BleakBluetoothNotAvailableError(
            f"cannot open HCI transport {hci!r}: {e}", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
        ) from e
    try:
        device = Device(host=Host(transport.source, transport.sink))
        try:
            async with asyncio.timeout(_POWER_ON_TIMEOUT_S):
                await device.power_on()
        except (TimeoutError, core.BaseBumbleError, HCI_Error) as e:
            raise BleakBluetoothNotAvailableError(
                f"no Bluetooth controller answers on {hci!r}", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
            ) from e
        lost = transport.source.terminated if isinstance(transport.source, BaseSource) else None
        central = BumbleCentral(device, transport_lost=lost)
        try:
            yield central
        finally:
            await central.aclose()
    finally:
        await transport.close()
