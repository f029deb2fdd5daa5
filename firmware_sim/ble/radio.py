"""The simulator's virtual radio: a GATT peripheral, an in-process central, an optional HCI port.

Everything lives on one Bumble ``LocalLink`` in the running event loop. Controllers on the
link exchange real link-layer PDUs (advertising, connect, ACL data), and the hosts above them
speak real HCI, L2CAP and ATT.

In-process (tests, ``sim://``)::

    async with BleSimulator(firmware, profile) as radio:
        async with BleakClient(radio.address, backend=radio.central.client_backend) as client:
            ...

Cross-process (``massager-sim serve``)::

    async with serve_ble(firmware, profile) as url:
        print(url)   # ble://C4:..?model=pulse-gun-p5&hci=tcp-client:127.0.0.1:PORT
        await stop.wait()
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import TracebackType

from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from firmware_sim.ble.controller import VirtualController
from firmware_sim.ble.hci_server import HciTcpServer
from firmware_sim.ble.peripheral import BleFirmware, GattPeripheral
from firmware_sim.ble.profile import BleProfile
from massager_ctl.transports.bumble.central import BumbleCentral

__all__ = ["BleSimulator", "serve_ble"]


def _host_on(controller: VirtualController) -> Host:
    return Host(controller, AsyncPipeSink(controller))


class BleSimulator:
    """A simulated BLE massager on a virtual radio, with a central to reach it.

    Args:
        firmware: The firmware to serve (``firmware_sim.Firmware``).
        profile: Its GATT layout, name and address.
        hci_port: Also expose a controller on this TCP port of 127.0.0.1 for another
            process (0 picks a free port); ``None`` for in-process use only.
    """

    def __init__(self, firmware: BleFirmware, profile: BleProfile, *, hci_port: int | None = None) -> None:
        self._firmware = firmware
        self._profile = profile
        self._hci_port = hci_port
        self._link: LocalLink | None = None
        self._peripheral: GattPeripheral | None = None
        self._central: BumbleCentral | None = None
        self._hci_server: HciTcpServer | None = None
        self._stack = contextlib.AsyncExitStack()

    @property
    def address(self) -> str:
        """The peripheral's Bluetooth address (random static), as bleak takes it."""
        return self._profile.address

    @property
    def profile(self) -> BleProfile:
        """The served profile."""
        return self._profile

    @property
    def peripheral(self) -> GattPeripheral:
        """The GATT peripheral (its ``connected`` and ``advertising`` state).

        Raises:
            RuntimeError: The simulator is not running.
        """
        if self._peripheral is None:
            raise RuntimeError("BLE simulator not running")
        return self._peripheral

    @property
    def central(self) -> BumbleCentral:
        """The in-process central; give bleak ``central.client_backend`` / ``scanner_backend``.

        Raises:
            RuntimeError: The simulator is not running.
        """
        if self._central is None:
            raise RuntimeError("BLE simulator not running")
        return self._central

    @property
    def hci_transport(self) -> str:
        """The Bumble transport spec of the HCI port (``tcp-client:127.0.0.1:PORT``).

        Raises:
            RuntimeError: Not running, or started without ``hci_port``.
        """
        if self._hci_server is None:
            raise RuntimeError("BLE simulator has no HCI port (start it with hci_port=)")
        return self._hci_server.transport_spec

    @property
    def url(self) -> str:
        """The device URL for another process: ``ble://ADDRESS?model=M&hci=tcp-client:...``.

        Raises:
            RuntimeError: Not running, or started without ``hci_port``.
        """
        return f"ble://{self.address}?model={self._profile.model_id}&hci={self.hci_transport}"

    async def start(self) -> None:
        """Bring up the link, the peripheral (advertising), the central and the HCI port.

        Raises:
            OSError: The HCI port cannot be bound.
        """
        if self._link is not None:
            return
        link = self._link = LocalLink()  # type: ignore[no-untyped-call]
        try:
            central_device = Device(host=_host_on(VirtualController("central", link=link)))
            await central_device.power_on()
            central = BumbleCentral(central_device)
            self._stack.push_async_callback(central.aclose)
            self._central = central
            if self._hci_port is not None:
                self._hci_server = await self._stack.enter_async_context(
                    HciTcpServer(link, port=self._hci_port)
                )
            # Last in, first out: on close the device powers off while its centrals still
            # listen, so each of them sees the peripheral end the link.
            peripheral_host = _host_on(VirtualController("peripheral", link=link))
            peripheral = GattPeripheral(self._firmware, self._profile, peripheral_host)
            self._stack.push_async_callback(peripheral.aclose)
            await peripheral.start()
            self._peripheral = peripheral
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Power the peripheral off (its centrals see it go), then close the port and central.

        Idempotent.
        """
        try:
            await self._stack.aclose()
        finally:
            self._link = None
            self._peripheral = self._central = self._hci_server = None

    async def __aenter__(self) -> BleSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@contextlib.asynccontextmanager
async def serve_ble(firmware: BleFirmware, profile: BleProfile, *, hci_port: int = 0) -> AsyncIterator[str]:
    """Serve ``firmware`` over BLE for another process; yields the device URL to print.

    The URL is ``ble://ADDRESS?model=M&hci=tcp-client:127.0.0.1:PORT``: a controller process
    opens ``bumble_central(hci=...)`` on the ``hci`` part and connects to ``ADDRESS``.

    Raises:
        OSError: The HCI port cannot be bound.
    """
    async with BleSimulator(firmware, profile, hci_port=hci_port) as radio:
        yield radio.url
