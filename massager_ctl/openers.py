"""The built-in device schemes: ``serial://``, ``tcp://`` (pyserial's ``socket://``) and ``ble://``.

Each is a :class:`~massager_ctl.registry.DeviceScheme` whose ``open`` yields a source of fresh
links. Transports are imported only when a URL of theirs is opened.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from massager_ctl.discovery import recognise_advertisement
from massager_ctl.errors import ConfigError, ConnectError, DeviceNotFoundError
from massager_ctl.models import DeviceProfile
from massager_ctl.registry import DeviceScheme, DeviceSource, OpenContext
from massager_ctl.transports.base import Transport

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice

    from massager_ctl.transports.ble import Advertisement
    from massager_ctl.urls import DeviceURL

_BLE_TIMEOUT_S = 10.0
_SCAN_S = 5.0


@dataclass(frozen=True, slots=True)
class LinkSource:
    """A real device: each link is a new transport from ``transport``."""

    profile: DeviceProfile
    transport: Callable[[], Transport]
    fit_head: Callable[[str], None] | None = None  # a person fits heads on a real device

    def new_transport(self) -> Transport:
        return self.transport()


@contextlib.asynccontextmanager
async def _open_serial(url: DeviceURL, context: OpenContext) -> AsyncIterator[DeviceSource]:
    from massager_ctl.transports.serial import SerialTransport

    profile = context.profile(url, "serial")
    spec = profile.serial
    assert spec is not None  # the catalog model guarantees it for serial models
    port = url.target if url.scheme == "serial" else f"socket://{url.target}"
    yield LinkSource(profile, lambda: SerialTransport(port, spec))


def _check_tcp(url: DeviceURL) -> None:
    host, sep, port = url.target.rpartition(":")
    if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"device URL {url.raw!r}: {url.target!r} is not HOST:PORT; expected {TCP.form}")


@contextlib.asynccontextmanager
async def _open_ble(url: DeviceURL, context: OpenContext) -> AsyncIterator[DeviceSource]:
    from massager_ctl.transports.ble import BleTransport, discover

    async with contextlib.AsyncExitStack() as stack:
        backend, scanner = context.ble_backend, context.ble_scanner_backend
        hci = url.options.get("hci")
        if hci:
            central = await stack.enter_async_context(open_bumble_central(hci))
            backend, scanner = central.client_backend, central.scanner_backend
        timeout = url.number("timeout", _BLE_TIMEOUT_S)
        device: BLEDevice | str = url.target
        if url.model is None:
            models = context.catalog.devices().values()
            target = url.target.upper()

            def recognised(adv: Advertisement) -> bool:
                if adv.address.upper() != target:
                    return False
                return model_for_advertisement(models, adv.name, adv.service_uuids) is not None

            # the scan ends once the device shows who it is, not after the whole window
            seen = await discover(scan_s=min(timeout, _SCAN_S), backend=scanner, until=recognised)
            match = next((a for a in seen if a.address.upper() == target), None)
            if match is None:
                raise DeviceNotFoundError(f"{url.raw}: no advertisement from {url.target}")
            profile = model_for_advertisement(models, match.name, match.service_uuids)
            if profile is None:
                raise ConfigError(f"{url.raw}: {match.name!r} matches no catalog model; add ?model=MODEL")
            device = match.device
        else:
            profile = context.profile(url, "ble")
        spec = profile.ble
        assert spec is not None

        def transport() -> Transport:
            return BleTransport(device, spec, backend=backend, scanner_backend=scanner, timeout=timeout)

        yield LinkSource(profile, transport)


@contextlib.asynccontextmanager
async def open_bumble_central(hci: str) -> AsyncIterator[Any]:
    """A Bumble central on an HCI transport (``usb:0``, ``tcp-client:HOST:PORT``) for bleak backends.

    Raises:
        ConfigError: Bumble is not installed.
        ConnectError: no controller on that transport.
    """
    try:
        from massager_ctl.transports.bumble import bumble_central
    except ImportError as e:
        raise ConfigError(f"hci={hci!r} needs the Bumble extra: pip install 'massager-ctl[sim]' ({e})") from e
    from bleak.exc import BleakBluetoothNotAvailableError

    try:
        async with bumble_central(hci=hci) as central:
            yield central
    except BleakBluetoothNotAvailableError as e:
        raise ConnectError(f"Bluetooth is not available: {e.args[0] if e.args else e}") from e


def model_for_advertisement(
    profiles: Iterable[DeviceProfile], name: str | None, service_uuids: Sequence[str]
) -> DeviceProfile | None:
    """The BLE catalog model of an advertisement, by name pattern and service UUID.

    ``None`` when nothing fits, or when several models fit and nothing tells them apart
    (see :func:`~massager_ctl.discovery.recognise_advertisement`).
    """
    found = recognise_advertisement(profiles, name, service_uuids)
    return found.profile if found is not None else None


SERIAL = DeviceScheme(
    name="serial",
    form="serial:///dev/ttyUSB0?model=MODEL",
    options=frozenset({"model"}),
    target="port",
    open=_open_serial,
    target_in_path=True,
    needs_model=True,
)
TCP = DeviceScheme(
    name="tcp",
    form="tcp://HOST:PORT?model=MODEL",
    options=frozenset({"model"}),
    target="HOST:PORT",
    open=_open_serial,
    needs_model=True,
    check=_check_tcp,
)
BLE = DeviceScheme(
    name="ble",
    form="ble://ADDRESS[?model=MODEL&hci=SPEC&timeout=S]",
    options=frozenset({"model", "hci", "timeout"}),
    target="address",
    open=_open_ble,
)
