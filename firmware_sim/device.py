"""A simulated device: one firmware and the front-ends that reach it."""

from __future__ import annotations

import contextlib
import importlib
from types import TracebackType
from typing import Any, Self

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
    """

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        speed: float = 1.0,
        faults: FaultSpec | None = None,
        seed: int | None = None,
    ) -> None:
        self.profile = profile
        self.firmware = Firmware(profile, speed=speed, faults=faults, seed=seed)
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
        """Close every front-end, then the firmware; idempotent."""
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

    async def serve_ble(self, **options: Any) -> str:
        """Serve as a BLE peripheral through ``firmware_sim.ble.serve_ble``; returns its URL.

        ``serve_ble(firmware, profile, *, exit_stack, **options)`` registers its own cleanup on
        ``exit_stack``, which this device closes in :meth:`aclose`.

        Raises:
            ConfigError: the model is not a BLE model, or the BLE front-end is not installed.
        """
        if self.profile.transport != "ble":
            raise ConfigError(f"{self.profile.id} is a {self.profile.transport} model, not BLE")
        try:
            ble = importlib.import_module("firmware_sim.ble")
            serve_ble = ble.serve_ble
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"the BLE front-end is not available ({e}); install massager-ctl[sim]") from e
        await self.start()
        url: str = await serve_ble(self.firmware, self.profile, exit_stack=self._stack, **options)
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
