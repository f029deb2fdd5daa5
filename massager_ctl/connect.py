"""Open a device by URL: find its scheme in the registry, open the source, put a driver on a link.

::

    async with open_device("sim://pulse-gun-p5") as device:
        await device.set_intensity(3)

:func:`open_source` keeps the source (a simulator, a Bluetooth central, a scanned model)
open for many links, as a session that reconnects needs; :func:`new_driver` puts the
controller's driver on each new link.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING

from massager_ctl.catalog import Catalog
from massager_ctl.drivers.base import DriverOptions
from massager_ctl.drivers.massager import MassagerDriver
from massager_ctl.errors import ConfigError
from massager_ctl.registry import DeviceSource, OpenContext, Registry, default_registry
from massager_ctl.transports.wirelog import LoggedSource, WireLog
from massager_ctl.urls import DeviceURL, parse_device_url

if TYPE_CHECKING:
    from bleak.backends.client import BaseBleakClient
    from bleak.backends.scanner import BaseBleakScanner


@contextlib.asynccontextmanager
async def open_source(
    url: DeviceURL, context: OpenContext, *, registry: Registry | None = None
) -> AsyncIterator[DeviceSource]:
    """Open a parsed URL with its scheme and yield the source; close it on exit.

    With ``context.wire_log`` set, every link the source makes writes its frames there.

    Raises:
        ConfigError: an unknown scheme or model, or options that do not fit the model.
        ConnectError: the device could not be reached.
    """
    scheme = (registry or default_registry()).get(url.scheme)
    async with scheme.open(url, context) as source:
        yield source if context.wire_log is None else LoggedSource(source, context.wire_log)


def new_driver(
    source: DeviceSource, *, options: DriverOptions | None = None, speed: float = 1.0
) -> MassagerDriver:
    """An unopened driver on a new link from ``source``; open it with ``async with``.

    Args:
        source: an open source.
        options: driver timing overrides.
        speed: the device's clock speed (a simulator's); its watchdog runs that many times
            faster, so the keepalive that feeds it must too.

    Raises:
        ConfigError: a speed that is not positive.
        ConnectError: no new link can be made.
    """
    if not speed > 0:
        raise ConfigError(f"speed must be positive, not {speed}")
    watchdog = source.profile.watchdog_spec
    if speed != 1.0 and watchdog is not None:
        # a model without a watchdog has no keepalive to scale
        base = options or DriverOptions()
        keepalive_s = base.keepalive_s or watchdog.keepalive_s
        options = replace(base, keepalive_s=keepalive_s / speed)
    return MassagerDriver(source.profile, source.new_transport(), options=options)


@contextlib.asynccontextmanager
async def open_device(
    url: str,
    *,
    catalog: Catalog | None = None,
    options: DriverOptions | None = None,
    ble_backend: type[BaseBleakClient] | None = None,
    ble_scanner_backend: type[BaseBleakScanner] | None = None,
    wire_log: WireLog | None = None,
) -> AsyncIterator[MassagerDriver]:
    """Open the device at ``url`` and yield its open driver; stop it safely and close on exit.

    Args:
        url: a device URL (see :mod:`massager_ctl.urls`).
        catalog: where models come from (default: built-ins and the user's folders).
        options: driver timing overrides.
        ble_backend: bleak client backend class for ``ble://`` (default: the platform's).
        ble_scanner_backend: bleak scanner backend class for ``ble://`` (finding the address,
            or the model when the URL names none).
        wire_log: where the link writes every frame (see :mod:`massager_ctl.transports.wirelog`).

    Raises:
        ConfigError: a bad URL or unknown model.
        ConnectError: the link could not be opened (DeviceNotFoundError: nothing there).
        ProtocolError: the device is not the model the URL names.
    """
    parsed = parse_device_url(url)
    context = OpenContext(
        catalog=catalog or Catalog(),
        ble_backend=ble_backend,
        ble_scanner_backend=ble_scanner_backend,
        wire_log=wire_log,
    )
    speed = parsed.number("speed", 1.0)
    async with (
        open_source(parsed, context) as source,
        new_driver(source, options=options, speed=speed) as driver,
    ):
        yield driver
