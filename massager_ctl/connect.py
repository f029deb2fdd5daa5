"""Open a device by URL: pick the transport, build the driver, open it, and clean up after.

::

    async with open_device("sim://pulse-gun-p5") as device:
        await device.set_intensity(3)
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from massager_ctl.catalog import Catalog
from massager_ctl.drivers.base import DriverOptions
from massager_ctl.drivers.massager import MassagerDriver
from massager_ctl.errors import ConfigError, ConnectError, DeviceNotFoundError
from massager_ctl.models import DeviceProfile
from massager_ctl.transports.base import Transport
from massager_ctl.urls import DeviceURL, opener, parse_device_url

if TYPE_CHECKING:
    from bleak.backends.client import BaseBleakClient
    from bleak.backends.scanner import BaseBleakScanner

    from firmware_sim import SimulatedDevice

_BLE_TIMEOUT_S = 10.0
_SCAN_S = 5.0


@dataclass(slots=True)
class OpenContext:
    """What an opener gets besides the URL: the catalog, options, backends and a cleanup stack."""

    catalog: Catalog
    stack: contextlib.AsyncExitStack
    options: DriverOptions | None = None
    ble_backend: type[BaseBleakClient] | None = None
    ble_scanner_backend: type[BaseBleakScanner] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def profile(self, url: DeviceURL, transport: str) -> DeviceProfile:
        """The URL's model, checked to use ``transport``.

        Raises:
            ConfigError: unknown model, or a model of another transport.
        """
        model = url.model
        if model is None:
            raise ConfigError(f"{url.raw}: no model given (add ?model=MODEL)")
        profile = self.catalog.device(model)
        if profile.transport != transport:
            raise ConfigError(f"{url.raw}: {model} is a {profile.transport} model, not {transport}")
        return profile

    def driver(self, profile: DeviceProfile, transport: Transport) -> MassagerDriver:
        """The driver of a model on a transport (not opened yet).

        Raises:
            ConfigError: the driver does not speak the model's protocol yet.
        """
        profile.require_driver()
        return MassagerDriver(profile, transport, options=self.options)


@contextlib.asynccontextmanager
async def open_device(
    url: str,
    *,
    catalog: Catalog | None = None,
    options: DriverOptions | None = None,
    ble_backend: type[BaseBleakClient] | None = None,
    ble_scanner_backend: type[BaseBleakScanner] | None = None,
) -> AsyncIterator[MassagerDriver]:
    """Open the device at ``url`` and yield its open driver; stop it safely and close on exit.

    Args:
        url: a device URL (see :mod:`massager_ctl.urls`).
        catalog: where models come from (default: built-ins and the user's folders).
        options: driver timing overrides.
        ble_backend: bleak client backend class for ``ble://`` (default: the platform's).
        ble_scanner_backend: bleak scanner backend class for ``ble://`` without ``model``.

    Raises:
        ConfigError: a bad URL or unknown model.
        ConnectError: the link could not be opened (DeviceNotFoundError: nothing there).
        ProtocolError: the device is not the model the URL names.
    """
    parsed = parse_device_url(url)
    async with contextlib.AsyncExitStack() as stack:
        context = OpenContext(
            catalog=catalog or Catalog(),
            stack=stack,
            options=options,
            ble_backend=ble_backend,
            ble_scanner_backend=ble_scanner_backend,
        )
        driver = await opener(parsed.scheme)(parsed, context)
        yield await stack.enter_async_context(driver)


async def open_serial(url: DeviceURL, context: OpenContext) -> MassagerDriver:
    from massager_ctl.transports.serial import SerialTransport

    profile = context.profile(url, "serial")
    assert profile.serial is not None  # the catalog model guarantees it for serial models
    return context.driver(profile, SerialTransport(url.target, profile.serial))


async def open_tcp(url: DeviceURL, context: OpenContext) -> MassagerDriver:
    from massager_ctl.transports.serial import SerialTransport

    profile = context.profile(url, "serial")
    assert profile.serial is not None
    return context.driver(profile, SerialTransport(f"socket://{url.target}", profile.serial))


async def open_ble(url: DeviceURL, context: OpenContext) -> MassagerDriver:
    from massager_ctl.transports.ble import BleTransport, discover

    backend, scanner = context.ble_backend, context.ble_scanner_backend
    hci = url.options.get("hci")
    if hci:
        central = await context.stack.enter_async_context(open_bumble_central(hci))
        backend, scanner = central.client_backend, central.scanner_backend
    timeout = url.number("timeout", _BLE_TIMEOUT_S)
    if url.model is None:
        seen = await discover(scan_s=min(timeout, _SCAN_S), backend=scanner)
        match = next((a for a in seen if a.address.upper() == url.target.upper()), None)
        if match is None:
            raise DeviceNotFoundError(f"{url.raw}: no advertisement from {url.target}")
        profile = model_for_advertisement(context.catalog.devices().values(), match.name, match.service_uuids)
        if profile is None:
            raise ConfigError(f"{url.raw}: {match.name!r} matches no catalog model; add ?model=MODEL")
    else:
        profile = context.profile(url, "ble")
    assert profile.ble is not None
    return context.driver(profile, BleTransport(url.target, profile.ble, backend=backend, timeout=timeout))


@contextlib.asynccontextmanager
async def open_bumble_central(hci: str) -> AsyncIterator[Any]:
    """A Bumble central on an HCI transport (``usb:0``, ``tcp-client:HOST:PORT``) for bleak backends.

    Raises:
        ConfigError: Bumble is not installed.
        ConnectError: no controller on that transport.
    """
    try:
        from firmware_sim.ble import bumble_central
    except ImportError as e:
        raise ConfigError(f"hci={hci!r} needs the Bumble extra: pip install 'massager-ctl[sim]' ({e})") from e
    from bleak.exc import BleakBluetoothNotAvailableError

    try:
        async with bumble_central(hci=hci) as central:
            yield central
    except BleakBluetoothNotAvailableError as e:
        raise ConnectError(f"Bluetooth is not available: {e.args[0] if e.args else e}") from e


async def open_sim(url: DeviceURL, context: OpenContext) -> MassagerDriver:
    served = await context.stack.enter_async_context(
        serve_sim(url, catalog=context.catalog, options=context.options)
    )
    return served.new_driver()


@dataclass(slots=True)
class ServedSim:
    """A simulator started for a ``sim://`` URL, and the link it serves.

    Attributes:
        simulator: the running simulated device.
        profile: its catalog model.
        link: ``virtual``, ``pty``, ``tcp`` or ``ble``.
        options: driver options for it (the keepalive scaled to the simulator's speed).
        served_url: the ``serial://`` / ``tcp://`` URL of a pty or TCP link, else ``None``.
        radio: the Bumble radio of a ``ble`` link, else ``None``.
    """

    simulator: SimulatedDevice
    profile: DeviceProfile
    link: str
    options: DriverOptions
    served_url: str | None = None
    radio: Any = None

    def new_driver(self) -> MassagerDriver:
        """An unopened driver on a fresh link to the simulator; open it with ``async with``.

        Raises:
            ConnectError: the simulator's virtual link is already taken.
        """
        profile = self.profile
        transport: Transport
        if self.served_url is not None:
            from massager_ctl.transports.serial import SerialTransport

            served = parse_device_url(self.served_url)
            assert profile.serial is not None  # a pty or TCP link is only served for serial models
            port = served.target if served.scheme == "serial" else f"socket://{served.target}"
            transport = SerialTransport(port, profile.serial)
        elif self.radio is not None:
            from massager_ctl.transports.ble import BleTransport

            assert profile.ble is not None
            transport = BleTransport(
                self.radio.address, profile.ble, backend=self.radio.central.client_backend
            )
        else:
            from massager_ctl.transports.virtual import VirtualTransport

            try:
                link = self.simulator.virtual_link()
            except ConnectionError as e:
                raise ConnectError(f"sim://{profile.id}: {e}") from e
            transport = VirtualTransport(link, name=f"sim://{profile.id}")
        driver = MassagerDriver(profile, transport, options=self.options)
        driver.simulator = self.simulator
        return driver


@contextlib.asynccontextmanager
async def serve_sim(
    url: DeviceURL,
    *,
    catalog: Catalog,
    speed: float | None = None,
    options: DriverOptions | None = None,
) -> AsyncIterator[ServedSim]:
    """Start the simulator a ``sim://`` URL names and serve its link; stop both on exit.

    Every link opened with :meth:`ServedSim.new_driver` reaches the same firmware, so a
    reconnect finds the device as it was (its heat timer, its watchdog).

    Args:
        url: a parsed ``sim://`` URL (``link``, ``speed``, ``faults`` and ``seed`` are read from it).
        catalog: where the model comes from.
        speed: the simulator's clock speed (default: the URL's ``speed``, else 1).
        options: driver options to start from; the keepalive is scaled to ``speed``.

    Raises:
        ConfigError: an unknown model, a model the driver does not speak yet, a bad option, or a link
            that does not fit the model.
    """
    from firmware_sim import FaultSpec, SimulatedDevice

    profile = catalog.device(url.target)
    profile.require_driver()
    link = url.options.get("link", "pty" if profile.transport == "serial" else "ble")
    seed = url.options.get("seed")
    if seed is not None and not seed.lstrip("-").isdigit():
        raise ConfigError(f"{url.raw}: seed={seed!r} is not an integer")
    faults = FaultSpec.parse(url.options["faults"]) if "faults" in url.options else None
    speed = url.number("speed", 1.0) if speed is None else speed
    if not speed > 0:
        raise ConfigError(f"{url.raw}: speed must be positive")
    if link in ("pty", "tcp") and profile.transport != "serial":
        raise ConfigError(f"{url.raw}: link={link} serves serial models; {profile.id} is BLE (use link=ble)")
    if link == "ble" and profile.transport != "ble":
        raise ConfigError(f"{url.raw}: link=ble serves BLE models; {profile.id} is a serial model")
    base = options or DriverOptions()
    if speed != 1.0:
        # the firmware's watchdog runs `speed` times faster, so the keepalive that feeds it must too
        base = replace(base, keepalive_s=(base.keepalive_s or profile.watchdog.keepalive_s) / speed)
    async with contextlib.AsyncExitStack() as stack:
        sim = await stack.enter_async_context(
            SimulatedDevice(profile, speed=speed, faults=faults, seed=None if seed is None else int(seed))
        )
        served = ServedSim(sim, profile, link, base)
        if link in ("pty", "tcp"):
            served.served_url = await (sim.serve_pty() if link == "pty" else sim.serve_tcp())
        elif link == "ble":
            from firmware_sim.ble import BleProfile, BleSimulator

            assert profile.ble is not None
            ble = BleProfile.from_catalog(profile.id, profile.ble.model_dump(), serial=sim.firmware.serial)
            served.radio = await stack.enter_async_context(BleSimulator(sim.firmware, ble))
        yield served


def model_for_advertisement(
    profiles: Iterable[DeviceProfile], name: str | None, service_uuids: Sequence[str]
) -> DeviceProfile | None:
    """The BLE catalog model of an advertisement: by local-name glob, else by a unique service UUID."""
    ble_models = [p for p in profiles if p.ble is not None]
    if name:
        for profile in ble_models:
            assert profile.ble is not None
            if fnmatch.fnmatchcase(name, profile.ble.local_name):
                return profile
    uuids = {u.lower() for u in service_uuids}
    by_uuid = [p for p in ble_models if p.ble is not None and p.ble.service_uuid.lower() in uuids]
    return by_uuid[0] if len(by_uuid) == 1 else None
