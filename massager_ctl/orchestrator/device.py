"""Links to one device that a session can open again after a drop.

A session reconnects by asking for a fresh driver. The connector opens the URL's
source once (see :mod:`massager_ctl.registry`) and asks it for every link: for a
``sim://`` device the source is the running simulator, which must outlive each
link (a reconnect has to find the same firmware, with its heat timer and
watchdog); for a ``ble://`` device found by a scan it is the model and address
found. The connector knows no scheme by name.

Every link starts with the device stopped and leaves its watchdog unfed: the
device may still run what a lost link set, and only a healthy session may keep
it running (the session turns the keepalive on when it applies a step).
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Self

from massager_ctl.catalog import Catalog
from massager_ctl.connect import new_driver, open_source
from massager_ctl.drivers.base import DriverOptions
from massager_ctl.drivers.massager import MassagerDriver
from massager_ctl.errors import ConfigError, MassagerError
from massager_ctl.orchestrator.person import AutoPerson, HandsOnPerson, Person
from massager_ctl.registry import DeviceSource, OpenContext, Registry, default_registry
from massager_ctl.transports.wirelog import WireLog
from massager_ctl.urls import DeviceURL, parse_device_url


class DeviceConnector:
    """Opens links to the device at ``url``; use as ``async with DeviceConnector(url) as device:``.

    Args:
        url: a device URL.
        catalog: where models come from.
        speed: the device's clock speed, for schemes that take a ``speed`` option (a simulator);
            overrides the URL's ``speed``.
        registry: where schemes come from (default: built-ins and installed plug-ins).
        wire_log: where every link writes its frames (one log across reconnects).

    Raises:
        ConfigError: (on enter) a bad URL, an unknown model, or a link that does not fit the model.
    """

    def __init__(
        self,
        url: str,
        *,
        catalog: Catalog | None = None,
        speed: float | None = None,
        registry: Registry | None = None,
        wire_log: WireLog | None = None,
    ) -> None:
        self._registry = registry or default_registry()
        self._wire_log = wire_log
        self.url: DeviceURL = parse_device_url(url, registry=self._registry)
        self.catalog = catalog or Catalog()
        self.speed = speed if speed is not None else self.url.number("speed", 1.0)
        if not self.speed > 0:
            raise ConfigError(f"{url}: speed must be positive")
        if self.speed != 1.0 and "speed" not in self._registry.get(self.url.scheme).options:
            raise ConfigError(f"--speed compresses time on a simulator only; {url} is a real device")
        self.source: DeviceSource | None = None
        """The opened URL (``None`` outside ``async with``)."""
        # "off" is the first thing the device hears on each link, and no keepalive until a step runs
        self._options = DriverOptions(stop_on_open=True, keepalive_on_open=False)
        self._stack = contextlib.AsyncExitStack()
        self._links: list[tuple[MassagerDriver, contextlib.AsyncExitStack]] = []

    @property
    def model(self) -> str | None:
        """The catalog model id the URL names, if it names one."""
        return self.url.model

    async def __aenter__(self) -> Self:
        context = OpenContext(catalog=self.catalog, speed=self.speed, wire_log=self._wire_log)
        try:
            self.source = await self._stack.enter_async_context(
                open_source(self.url, context, registry=self._registry)
            )
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every link this connector opened, then the source; idempotent."""
        links, self._links = self._links, []
        try:
            for _, stack in reversed(links):
                await stack.aclose()
        finally:
            self.source = None
            await self._stack.aclose()

    def fit_head(self, head_id: str) -> None:
        """Swap the fitted head as a person would, where the source can (a simulator); else nothing."""
        fit = self.source.fit_head if self.source is not None else None
        if fit is not None:
            fit(head_id)

    def auto_person(self) -> Person:
        """The person for ``--yes``: ready at once; on a simulator they also fit each head asked for."""
        fit = self.source.fit_head if self.source is not None else None
        return HandsOnPerson(fit) if fit is not None else AutoPerson()

    async def connect(self) -> MassagerDriver:
        """Open a new link and return its open driver (closed with the connector at the latest).

        The device hears a stop before anything else, and the driver's keepalive is off.

        Raises:
            ConnectError: the link could not be opened.
            ProtocolError: the device is not the expected model.
        """
        await self._forget_dead_links()
        if self.source is None:
            raise RuntimeError(f"{self.url.raw}: the connector is not open (use async with)")
        return await self._open(new_driver(self.source, options=self._options, speed=self.speed))

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
