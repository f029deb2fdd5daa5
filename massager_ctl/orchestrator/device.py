"""Links to one device that a session can open again after a drop.

A session reconnects by opening a fresh driver. For ``serial://``, ``tcp://``
and ``ble://`` that is :func:`massager_ctl.connect.open_device` again. For
``sim://`` the simulator must outlive each link (a reconnect has to find the
same firmware, with its heat timer and watchdog), so the connector starts it
once and opens each link to it: the in-memory virtual link, a pty, a TCP port
or the Bumble radio.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from massager_ctl.catalog import Catalog
from massager_ctl.connect import open_device
from massager_ctl.drivers.base import DriverOptions
from massager_ctl.drivers.massager import MassagerDriver
from massager_ctl.errors import ConfigError, ConnectError, MassagerError
from massager_ctl.models import DeviceProfile
from massager_ctl.urls import DeviceURL, parse_device_url

if TYPE_CHECKING:
    from firmware_sim import SimulatedDevice


class DeviceConnector:
    """Opens links to the device at ``url``; use as ``async with DeviceConnector(url) as device:``.

    Args:
        url: a device URL.
        catalog: where models come from.
        speed: for ``sim://``, the simulator's clock speed (overrides the URL's ``speed``).

    Raises:
        ConfigError: (on enter) a bad URL, an unknown model, or a link that does not fit the model.
    """

    def __init__(self, url: str, *, catalog: Catalog | None = None, speed: float | None = None) -> None:
        self.url: DeviceURL = parse_device_url(url)
        self.catalog = catalog or Catalog()
        self.speed = speed if speed is not None else self.url.number("speed", 1.0)
        if not self.speed > 0:
            raise ConfigError(f"{url}: speed must be positive")
        if self.speed != 1.0 and self.url.scheme != "sim":
            raise ConfigError(f"--speed compresses time on a simulator only; {url} is a real device")
        self.simulator: SimulatedDevice | None = None
        self._stack = contextlib.AsyncExitStack()
        self._links: list[tuple[MassagerDriver, contextlib.AsyncExitStack]] = []
        self._served: str | None = None
        self._radio: Any = None
        self._profile: DeviceProfile | None = None

    @property
    def model(self) -> str | None:
        """The catalog model id the URL names, if it names one."""
        return self.url.model

    async def __aenter__(self) -> Self:
        if self.url.scheme == "sim":
            try:
                await self._start_simulator()
            except BaseException:
                await self._stack.aclose()
                raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every link this connector opened, then the simulator; idempotent."""
        links, self._links = self._links, []
        try:
            for _, stack in reversed(links):
                await stack.aclose()
        finally:
            await self._stack.aclose()

    async def _start_simulator(self) -> None:
        from firmware_sim import FaultSpec, SimulatedDevice

        profile = self._profile = self.catalog.device(self.url.target)
        options = self.url.options
        seed = options.get("seed")
        if seed is not None and not seed.lstrip("-").isdigit():
            raise ConfigError(f"{self.url.raw}: seed={seed!r} is not an integer")
        faults = FaultSpec.parse(options["faults"]) if "faults" in options else None
        sim = await self._stack.enter_async_context(
            SimulatedDevice(
                profile, speed=self.speed, faults=faults, seed=None if seed is None else int(seed)
            )
        )
        self.simulator = sim
        link = options.get("link", "pty" if profile.transport == "serial" else "ble")
        if link in ("pty", "tcp"):
            if profile.transport != "serial":
                raise ConfigError(f"{self.url.raw}: link={link} serves serial models; {profile.id} is BLE")
            self._served = await (sim.serve_pty() if link == "pty" else sim.serve_tcp())
        elif link == "ble":
            if profile.transport != "ble" or profile.ble is None:
                raise ConfigError(f"{self.url.raw}: link=ble serves BLE models; {profile.id} is serial")
            from firmware_sim.ble import BleProfile, BleSimulator

            ble = BleProfile.from_catalog(profile.id, profile.ble.model_dump(), serial=sim.firmware.serial)
            self._radio = await self._stack.enter_async_context(BleSimulator(sim.firmware, ble))

    def _options(self) -> DriverOptions:
        # The simulator's watchdog runs `speed` times faster: so must the keepalive that feeds it.
        assert self._profile is not None
        return DriverOptions(keepalive_s=self._profile.watchdog.keepalive_s / self.speed)

    def fit_head(self, head_id: str) -> None:
        """Swap the head on the simulated device, as a person would (``sim://`` only)."""
        if self.simulator is not None:
            self.simulator.firmware.fit_head(head_id)

    async def connect(self) -> MassagerDriver:
        """Open a new link and return its open driver (closed with the connector at the latest).

        Raises:
            ConnectError: the link could not be opened.
            ProtocolError: the device is not the expected model.
        """
        await self._forget_dead_links()
        if self.url.scheme != "sim":
            return await self._open(open_device(self.url.raw, catalog=self.catalog))
        options = self._options()
        if self._served is not None:
            return await self._open(open_device(self._served, catalog=self.catalog, options=options))
        assert self._profile is not None
        assert self.simulator is not None
        if self._radio is not None:
            from massager_ctl.transports.ble import BleTransport

            assert self._profile.ble is not None
            transport: Any = BleTransport(
                self._radio.address, self._profile.ble, backend=self._radio.central.client_backend
            )
        else:
            from massager_ctl.transports.virtual import VirtualTransport

            try:
                link = self.simulator.virtual_link()
            except ConnectionError as e:
                raise ConnectError(f"{self.url.raw}: {e}") from e
            transport = VirtualTransport(link, name=f"sim://{self._profile.id}")
        driver = MassagerDriver(self._profile, transport, options=options)
        driver.simulator = self.simulator
        return await self._open(driver)

    async def _open(self, link: AbstractAsyncContextManager[MassagerDriver]) -> MassagerDriver:
        stack = contextlib.AsyncExitStack()
        driver = await stack.enter_async_context(link)
        self._links.append((driver, stack))
        return driver

    async def _forget_dead_links(self) -> None:
        # A long-running `serve` reconnects many times: close and drop links that are gone.
        dead = [(d, s) for d, s in self._links if not d.state.connected]
        self._links = [(d, s) for d, s in self._links if d.state.connected]
        for _, stack in dead:
            with contextlib.suppress(MassagerError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await stack.aclose()
