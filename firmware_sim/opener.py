"""The ``sim://`` device scheme: the simulator registers itself with the controller's device registry.

``pyproject.toml`` names :data:`SIM` in the ``massager_ctl.devices`` entry-point group, so the
controller opens ``sim://MODEL`` without ever importing this package. Opening one starts the
simulator in-process and serves the link the URL asks for; every driver the source makes is a
fresh link to the same firmware, so a reconnect finds the device as it was (its heat timer,
its watchdog).

This module is the simulator's adapter to the controller's registry: it hands out links (the
controller's transports, with the radio's Bumble backends injected) and the controller puts its
own driver on each. Nothing in the simulator imports the controller's codecs or drivers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from massager_ctl.errors import ConfigError, ConnectError
from massager_ctl.models import DeviceProfile
from massager_ctl.registry import DeviceScheme, OpenContext
from massager_ctl.transports.base import Transport

if TYPE_CHECKING:
    from firmware_sim.device import SimulatedDevice
    from firmware_sim.families import ProductFirmware
    from massager_ctl.urls import DeviceURL

FORM = "sim://MODEL[?link=virtual|pty|tcp|ble&speed=N&faults=SPEC&seed=N]"
LINKS = ("virtual", "pty", "tcp", "ble")


@dataclass(slots=True)
class ServedSim:
    """A simulator started for a ``sim://`` URL, and the link it serves.

    Attributes:
        simulator: the running simulated device.
        profile: its catalog model.
        link: ``virtual``, ``pty``, ``tcp`` or ``ble``.
        served_url: the ``serial://`` / ``tcp://`` URL of a pty or TCP link, else ``None``.
        radio: the Bumble radio of a ``ble`` link, else ``None``.
    """

    simulator: SimulatedDevice
    profile: DeviceProfile
    link: str
    served_url: str | None = None
    radio: Any = None

    @property
    def fit_head(self) -> Callable[[str], None]:
        """Swap the head on the simulated device, as a person would."""
        return self.simulator.firmware.fit_head

    def new_transport(self) -> Transport:
        """A fresh, unopened link to the simulator.

        Raises:
            ConnectError: the simulator's virtual link is already taken.
        """
        profile = self.profile
        if self.served_url is not None:
            from massager_ctl.transports.serial import SerialTransport
            from massager_ctl.urls import parse_device_url

            assert profile.serial is not None  # a pty or TCP link is only served for serial models
            served = parse_device_url(self.served_url)
            port = served.target if served.scheme == "serial" else f"socket://{served.target}"
            return SerialTransport(port, profile.serial)
        if self.radio is not None:
            from massager_ctl.transports.ble import BleTransport

            assert profile.ble is not None
            central = self.radio.central
            return BleTransport(
                self.radio.address,
                profile.ble,
                backend=central.client_backend,
                scanner_backend=central.scanner_backend,
            )
        from massager_ctl.transports.virtual import VirtualTransport

        try:
            link = self.simulator.virtual_link()
        except ConnectionError as e:
            raise ConnectError(f"sim://{profile.id}: {e}") from e
        return VirtualTransport(link, name=f"sim://{profile.id}")


@dataclass(slots=True)
class ServedProduct:
    """A real product's simulator started for a ``sim://`` URL, on the product's own transport.

    Attributes:
        firmware: the product's simulated firmware (``firmware_sim.families``).
        profile: its catalog model.
        radio: the Bumble radio a BLE product advertises on, under its name and UUIDs, else ``None``.
        port: the pty a serial product (the chair) is served on, else ``None``.
        virtual: served on the in-memory link (``link=virtual``) instead of its own transport.
    """

    firmware: ProductFirmware
    profile: DeviceProfile
    radio: Any = None
    port: str | None = None
    virtual: bool = False

    @property
    def fit_head(self) -> None:
        """A product's zones are motorized: there is no head to fit by hand."""
        return None

    def new_transport(self) -> Transport:
        """A fresh, unopened link to the product (the product accepts one at a time).

        Raises:
            ConnectError: the product refuses the in-memory link (another is up, or it is held elsewhere).
        """
        if self.virtual:
            from firmware_sim.link import VirtualLink
            from massager_ctl.transports.virtual import VirtualTransport

            try:
                return VirtualTransport(VirtualLink(self.firmware), name=f"sim://{self.profile.id}")
            except ConnectionError as e:
                raise ConnectError(f"sim://{self.profile.id}: {e}") from e
        if self.port is not None:
            from massager_ctl.transports.serial import SerialTransport

            assert self.profile.serial is not None  # a pty is only served for serial products
            return SerialTransport(self.port, self.profile.serial)
        from massager_ctl.transports.ble import BleTransport

        assert self.profile.ble is not None
        central = self.radio.central
        return BleTransport(
            self.radio.address,
            self.profile.ble,
            backend=central.client_backend,
            scanner_backend=central.scanner_backend,
        )


@contextlib.asynccontextmanager
async def serve_product_sim(url: DeviceURL, context: OpenContext) -> AsyncIterator[ServedProduct]:
    """Start a real product's simulator for a ``sim://`` URL on the product's transport; stop it on exit.

    A BLE product advertises on the Bumble radio; a serial one (the chair) is served on a pty at its
    line settings. ``link=virtual`` serves either on the in-memory link instead (for tests in virtual
    time: a pty's bytes pass through the kernel, in real time).

    Args:
        url: a parsed ``sim://`` URL (``speed`` and ``faults``, product faults such as
            ``refuse_connection=1``, are read from it).
        context: the catalog, and the speed (default: the URL's ``speed``, else 1).

    Raises:
        ConfigError: a link that is not the product's, or a bad option.
    """
    from firmware_sim.families import ProductFaults, firmware_for

    profile = context.catalog.device(url.target)
    own = "ble" if profile.ble is not None else "pty"
    link = url.options.get("link", own)
    if link not in (own, "virtual"):
        raise ConfigError(f"{url.raw}: {profile.id}'s simulator is served with link={own} or link=virtual")
    faults = ProductFaults.parse(url.options.get("faults", ""))
    speed = url.number("speed", 1.0) if context.speed is None else context.speed
    if not speed > 0:
        raise ConfigError(f"{url.raw}: speed must be positive")
    async with firmware_for(profile, speed=speed, faults=faults) as firmware:
        if link == "virtual":
            yield ServedProduct(firmware, profile, virtual=True)
            return
        if profile.ble is None:
            from firmware_sim.serial_link import PtyFrontEnd

            front = PtyFrontEnd(firmware)
            try:
                yield ServedProduct(firmware, profile, port=front.open())
            finally:
                front.close()
            return
        from firmware_sim.ble import BleProfile, BleSimulator
        from firmware_sim.families.serve import unit_serial

        ble = BleProfile.for_product(profile.id, profile.ble.model_dump(), serial=unit_serial(profile.id))
        async with BleSimulator(firmware, ble) as radio:
            yield ServedProduct(firmware, profile, radio=radio)


@contextlib.asynccontextmanager
async def open_sim(url: DeviceURL, context: OpenContext) -> AsyncIterator[ServedSim | ServedProduct]:
    """The ``sim://`` scheme: a real product's simulator, or a reference model's.

    Raises:
        ConfigError: as :func:`serve_sim` and :func:`serve_product_sim`.
    """
    profile = context.catalog.device(url.target)
    serve = serve_product_sim if profile.kind == "product" else serve_sim
    async with serve(url, context) as served:
        yield served


def _check(url: DeviceURL) -> None:
    if url.options.get("link", "virtual") not in LINKS:
        raise ConfigError(f"device URL {url.raw!r}: link must be one of {', '.join(LINKS)}; expected {FORM}")


@contextlib.asynccontextmanager
async def serve_sim(url: DeviceURL, context: OpenContext) -> AsyncIterator[ServedSim]:
    """Start the simulator a ``sim://`` URL names and serve its link; stop both on exit.

    Args:
        url: a parsed ``sim://`` URL (``link``, ``speed``, ``faults`` and ``seed`` are read from it).
        context: the catalog, and the speed (default: the URL's ``speed``, else 1); drivers on
            its links must scale their keepalive to it (:func:`massager_ctl.connect.new_driver`).

    Raises:
        ConfigError: an unknown model, a real product, a bad option, or a link that does not fit the model.
    """
    from firmware_sim.device import SimulatedDevice
    from firmware_sim.faults import FaultSpec

    profile = context.catalog.device(url.target)
    if profile.kind == "product":
        raise ConfigError(f"{url.raw}: {profile.id} is a real product; its simulator is served by open_sim")
    link = url.options.get("link", "pty" if profile.transport == "serial" else "ble")
    seed = url.options.get("seed")
    if seed is not None and not seed.lstrip("-").isdigit():
        raise ConfigError(f"{url.raw}: seed={seed!r} is not an integer")
    faults = FaultSpec.parse(url.options["faults"]) if "faults" in url.options else None
    speed = url.number("speed", 1.0) if context.speed is None else context.speed
    if not speed > 0:
        raise ConfigError(f"{url.raw}: speed must be positive")
    if link in ("pty", "tcp") and profile.transport != "serial":
        raise ConfigError(f"{url.raw}: link={link} serves serial models; {profile.id} is BLE (use link=ble)")
    if link == "ble" and profile.transport != "ble":
        raise ConfigError(f"{url.raw}: link=ble serves BLE models; {profile.id} is a serial model")
    async with contextlib.AsyncExitStack() as stack:
        sim = await stack.enter_async_context(
            SimulatedDevice(profile, speed=speed, faults=faults, seed=None if seed is None else int(seed))
        )
        served = ServedSim(sim, profile, link)
        if link in ("pty", "tcp"):
            served.served_url = await (sim.serve_pty() if link == "pty" else sim.serve_tcp())
        elif link == "ble":
            from firmware_sim.ble import BleProfile, BleSimulator

            assert profile.ble is not None
            ble = BleProfile.from_catalog(profile.id, profile.ble.model_dump(), serial=sim.firmware.serial)
            served.radio = await stack.enter_async_context(BleSimulator(sim.firmware, ble))
        yield served


SIM = DeviceScheme(
    name="sim",
    form=FORM,
    options=frozenset({"link", "speed", "faults", "seed"}),
    target="model",
    open=open_sim,
    target_is_model=True,
    check=_check,
)
