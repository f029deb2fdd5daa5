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
from typing import TYPE_CHECKING, Self

from massager_ctl.catalog import Catalog
from massager_ctl.connect import ServedSim, open_device, serve_sim
from massager_ctl.drivers.massager import MassagerDriver
from massager_ctl.errors import ConfigError, MassagerError
from massager_ctl.orchestrator.person import AutoPerson, HandsOnPerson, Person
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
        self._sim: ServedSim | None = None

    @property
    def model(self) -> str | None:
        """The catalog model id the URL names, if it names one."""
        return self.url.model

    async def __aenter__(self) -> Self:
        if self.url.scheme == "sim":
            try:
                self._sim = await self._stack.enter_async_context(
                    serve_sim(self.url, catalog=self.catalog, speed=self.speed)
                )
                self.simulator = self._sim.simulator
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

    def fit_head(self, head_id: str) -> None:
        """Swap the head on the simulated device, as a person would (``sim://`` only)."""
        if self.simulator is not None:
            self.simulator.firmware.fit_head(head_id)

    def auto_person(self) -> Person:
        """The person for ``--yes``: ready at once; on a simulator they also fit each head asked for."""
        return HandsOnPerson(self.fit_head) if self.simulator is not None else AutoPerson()

    async def connect(self) -> MassagerDriver:
        """Open a new link and return its open driver (closed with the connector at the latest).

        Raises:
            ConnectError: the link could not be opened.
            ProtocolError: the device is not the expected model.
        """
        await self._forget_dead_links()
        if self._sim is None:
            return await self._open(open_device(self.url.raw, catalog=self.catalog))
        return await self._open(self._sim.new_driver())

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
