"""The device registry: each URL scheme and what opens it, a plug-in point like python-can's interfaces.

A scheme is a :class:`DeviceScheme`. The built-in ones (``serial``, ``tcp``, ``ble``) are in
:mod:`massager_ctl.openers`; any installed package adds more through the ``massager_ctl.devices``
entry-point group, each entry naming a ``DeviceScheme`` object. The simulator registers
``sim://`` that way, so the controller never imports it::

    [project.entry-points."massager_ctl.devices"]
    sim = "firmware_sim.opener:SIM"

Opening a URL gives a :class:`DeviceSource`: whatever must outlive one link (a simulator, a
Bluetooth central, the model found by a scan), and a factory for fresh transports (links).
The controller puts its own driver on each (:func:`massager_ctl.connect.new_driver`), so a
plug-in deals in links only; a session that reconnects asks the same source again and
finds the same device.
Entry points are read from the installed package's metadata: after adding one, install
again (``pip install -e .``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Protocol

from massager_ctl.errors import ConfigError

if TYPE_CHECKING:
    from bleak.backends.client import BaseBleakClient
    from bleak.backends.scanner import BaseBleakScanner

    from massager_ctl.catalog import Catalog
    from massager_ctl.models import DeviceProfile
    from massager_ctl.transports.base import Transport
    from massager_ctl.transports.wirelog import WireLog
    from massager_ctl.urls import DeviceURL

GROUP = "massager_ctl.devices"
_BUILTIN = (
    EntryPoint("serial", "massager_ctl.openers:SERIAL", GROUP),
    EntryPoint("tcp", "massager_ctl.openers:TCP", GROUP),
    EntryPoint("ble", "massager_ctl.openers:BLE", GROUP),
)


class DeviceSource(Protocol):
    """An opened device URL: fresh links to one device."""

    @property
    def profile(self) -> DeviceProfile:
        """The device's catalog model."""

    @property
    def fit_head(self) -> Callable[[str], None] | None:
        """Swaps the fitted head as a person would, where a program can (a simulator); else ``None``."""

    def new_transport(self) -> Transport:
        """A new, unopened link to the device.

        Raises:
            ConnectError: no new link can be made.
        """


@dataclass(slots=True, kw_only=True)
class OpenContext:
    """What a scheme gets besides the URL.

    Attributes:
        catalog: where models come from.
        speed: for a simulated device, its clock speed (``None``: the URL's, else 1).
        ble_backend: bleak client backend class for BLE links (``None``: the platform's).
        ble_scanner_backend: bleak scanner backend class for BLE scans (``None``: the platform's).
        wire_log: where every link of the opened source writes its frames (``None``: nowhere);
            :func:`massager_ctl.connect.open_source` applies it, so a scheme need not.
    """

    catalog: Catalog
    speed: float | None = None
    ble_backend: type[BaseBleakClient] | None = None
    ble_scanner_backend: type[BaseBleakScanner] | None = None
    wire_log: WireLog | None = None

    def profile(self, url: DeviceURL, transport: str) -> DeviceProfile:
        """The URL's model, checked to use ``transport``.

        Raises:
            ConfigError: no or an unknown model, or a model of another transport.
        """
        if url.model is None:
            raise ConfigError(f"{url.raw}: no model given (add ?model=MODEL)")
        profile = self.catalog.device(url.model)
        if profile.transport != transport:
            raise ConfigError(f"{url.raw}: {url.model} is a {profile.transport} model, not {transport}")
        return profile


Open = Callable[["DeviceURL", OpenContext], contextlib.AbstractAsyncContextManager[DeviceSource]]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceScheme:
    """One URL scheme: how its URLs look and what opens them.

    Attributes:
        name: the scheme (``sim``).
        form: the URL form shown in errors (``sim://MODEL[?link=...]``).
        options: the query options it takes.
        target: what the URL's target names, for errors (``model``, ``port``, ``address``).
        open: an async context manager factory that opens a URL and yields its source.
        target_in_path: the target is netloc and path (``serial:///dev/ttyUSB0``).
        target_is_model: the target is the catalog model id (else the ``model`` option is).
        needs_model: the ``model`` option is required.
        check: further checks of a parsed URL; raises ``ConfigError`` (ending with the form).
    """

    name: str
    form: str
    options: frozenset[str]
    target: str
    open: Open
    target_in_path: bool = False
    target_is_model: bool = False
    needs_model: bool = False
    check: Callable[[DeviceURL], None] | None = None


class Registry:
    """Schemes by name, each loaded from its entry point when first asked for.

    Args:
        entries: entry points naming :class:`DeviceScheme` objects; a later entry of the same
            name wins (an installed plug-in may replace a built-in).
    """

    def __init__(self, entries: Iterable[EntryPoint]) -> None:
        self._entries = {e.name.lower(): e for e in entries}
        self._loaded: dict[str, DeviceScheme] = {}

    def names(self) -> list[str]:
        """Every registered scheme, loaded or not."""
        return list(self._entries)

    def get(self, name: str) -> DeviceScheme:
        """The scheme called ``name``.

        Raises:
            ConfigError: no such scheme, or its plug-in cannot be loaded.
        """
        if name in self._loaded:
            return self._loaded[name]
        entry = self._entries.get(name)
        if entry is None:
            raise ConfigError(f"no device scheme {name!r}{self.expected()}")
        try:
            scheme = entry.load()
        except ImportError as e:
            raise ConfigError(f"the {name}:// plug-in ({entry.value}) cannot be loaded: {e}") from e
        if not isinstance(scheme, DeviceScheme) or scheme.name != name:
            raise ConfigError(f"the {name}:// plug-in ({entry.value}) is not a DeviceScheme named {name!r}")
        self._loaded[name] = scheme
        return scheme

    def expected(self) -> str:
        """``; expected one of: FORM, ...`` for error messages."""
        forms = []
        for name in self._entries:
            try:
                forms.append(self.get(name).form)
            except ConfigError:
                forms.append(f"{name}://... (plug-in not loadable)")
        return "; expected one of: " + ", ".join(forms)


@cache
def default_registry() -> Registry:
    """The built-in schemes plus every ``massager_ctl.devices`` entry point installed."""
    return Registry([*_BUILTIN, *entry_points(group=GROUP)])
