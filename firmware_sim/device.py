"""A simulated device: one firmware and the front-ends that reach it."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

from firmware_sim.faults import FaultSpec
from firmware_sim.firmware import Firmware
from firmware_sim.link import VirtualLink
from firmware_sim.serial_link import PtyFrontEnd, TcpFrontEnd
from massager_ctl.errors import ConfigError
from massager_ctl.models import DeviceProfile


class SimulatedDevice:
    """Owns a :class:`Firmware` and its front-ends; use as ``async with SimulatedDevice(profile) as dev:``.

    Args:
        profile: the catalog model to simulate.
        speed: clock compression (see :class:`Firmware`).
        faults: faults to inject.
        seed: seed for reproducible faults.
        strict: fail loudly on firmware bugs (see :class:`Firmware`); ``None`` reads
            ``MASSAGER_SIM_STRICT``.
    """

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        speed: float = 1.0,
        faults: FaultSpec | None = None,
        seed: int | None = None,
        strict: bool | None = None,
    ) -> None:
        self.profile = profile
        self.firmware = Firmware(profile, speed=speed, faults=faults, seed=seed, strict=strict)
        self._stack = contextlib.AsyncExitStack()
        self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start the firmware's clocks (``async with`` does this)."""
        if not self._started:
            self._started = True
            await self.firmware.start()

    async def aclose(self) -> None:
        """Close every front-end, then the firmware; idempotent.

        Raises:
            FirmwareBugError: strict mode, and the firmware failed at some point.
        """
        try:
            await self._stack.aclose()
        finally:
            await self.firmware.aclose()

    async def serve_pty(self) -> str:
        """Serve on a new pty pair; returns ``serial:///dev/pts/N?model=ID``.

        Raises:
            ConfigError: the model is not a serial model.
            OSError: no pty could be created.
        """
        self._require_serial("a pty")
        await self.start()
        front = PtyFrontEnd(self.firmware)
        path = front.open()
        self._stack.callback(front.close)
        return f"serial://{path}?model={self.profile.id}"

    async def serve_tcp(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the serial byte stream on a TCP port; returns ``tcp://HOST:PORT?model=ID``.

        Raises:
            ConfigError: the model is not a serial model.
            OSError: the address could not be bound.
        """
        self._require_serial("TCP")
        await self.start()
        front = TcpFrontEnd(self.firmware)
        bound = await front.open(host, port)
        self._stack.push_async_callback(front.aclose)
        return f"tcp://{host}:{bound}?model={self.profile.id}"

    async def serve_ble(self, *, hci_port: int = 0) -> str:
        """Serve as a BLE peripheral on a virtual radio for another process; returns its ``ble://`` URL.

        The URL names the radio's HCI port (``firmware_sim.ble.serve_ble``); the radio closes with this
        device.

        Args:
            hci_port: TCP port of 127.0.0.1 for the radio's HCI (0 picks a free one).

        Raises:
            ConfigError: the model is not a BLE model, or the BLE front-end (Bumble) is not installed.
            OSError: the HCI port could not be bound.
        """
        if self.profile.transport != "ble" or self.profile.ble is None:
            raise ConfigError(f"{self.profile.id} is a {self.profile.transport} model, not BLE")
        try:
            from firmware_sim.ble import BleProfile, serve_ble
        except ImportError as e:
            raise ConfigError(f"the BLE front-end is not available ({e}); install massager-ctl[sim]") from e
        await self.start()
        ble = BleProfile.from_catalog(
            self.profile.id, self.profile.ble.model_dump(), serial=self.firmware.serial
        )
        url: str = await self._stack.enter_async_context(serve_ble(self.firmware, ble, hci_port=hci_port))
        return url

    def virtual_link(self) -> VirtualLink:
        """An in-memory link for the controller's ``virtual`` transport; works for every model.

        Raises:
            RuntimeError: the device was not started.
            ConnectionRefusedError: an injected link drop is in progress.
        """
        if not self._started:
            raise RuntimeError("start the SimulatedDevice (async with) before linking to it")
        return VirtualLink(self.firmware)

    def _require_serial(self, what: str) -> None:
        if self.profile.transport != "serial":
            raise ConfigError(
                f"{self.profile.id} is a {self.profile.transport} model; {what} serves serial models"
            )
