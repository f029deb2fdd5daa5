"""Device URLs and the registry of openers, like pyserial's ``serial_for_url`` and python-can's interfaces.

Forms::

    sim://MODEL[?link=virtual|pty|tcp|ble&speed=N&faults=SPEC&seed=N]
    serial:///dev/ttyUSB0?model=MODEL
    tcp://HOST:PORT?model=MODEL
    ble://ADDRESS[?model=MODEL&hci=SPEC&timeout=S]

URLs are split with :func:`urllib.parse.urlsplit` and ``netloc``/``path`` are read raw:
``.port`` would fail on a Bluetooth address and ``.hostname`` lower-cases it.
Each scheme maps to an opener by dotted name, imported only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qsl, urlsplit

from massager_ctl.errors import ConfigError

if TYPE_CHECKING:
    from massager_ctl.connect import OpenContext
    from massager_ctl.drivers.massager import MassagerDriver

FORMS: dict[str, str] = {
    "sim": "sim://MODEL[?link=virtual|pty|tcp|ble&speed=N&faults=SPEC&seed=N]",
    "serial": "serial:///dev/ttyUSB0?model=MODEL",
    "tcp": "tcp://HOST:PORT?model=MODEL",
    "ble": "ble://ADDRESS[?model=MODEL&hci=SPEC&timeout=S]",
}
OPTIONS: dict[str, frozenset[str]] = {
    "sim": frozenset({"link", "speed", "faults", "seed"}),
    "serial": frozenset({"model"}),
    "tcp": frozenset({"model"}),
    "ble": frozenset({"model", "hci", "timeout"}),
}
OPENERS: dict[str, str] = {
    "sim": "massager_ctl.connect:open_sim",
    "serial": "massager_ctl.connect:open_serial",
    "tcp": "massager_ctl.connect:open_tcp",
    "ble": "massager_ctl.connect:open_ble",
}
SIM_LINKS = ("virtual", "pty", "tcp", "ble")

Opener = Callable[["DeviceURL", "OpenContext"], Awaitable["MassagerDriver"]]


def _expected() -> str:
    return "; expected one of: " + ", ".join(FORMS.values())


@dataclass(frozen=True, slots=True)
class DeviceURL:
    """A parsed device URL.

    ``target`` is the model id (``sim``), the port path (``serial``), ``HOST:PORT`` (``tcp``)
    or the Bluetooth address (``ble``), exactly as written.
    """

    raw: str
    scheme: str
    target: str
    options: Mapping[str, str]

    @property
    def model(self) -> str | None:
        """The catalog model id: the target of ``sim://``, else the ``model`` option."""
        return self.target if self.scheme == "sim" else self.options.get("model")

    def number(self, name: str, default: float) -> float:
        """A numeric option.

        Raises:
            ConfigError: the value is not a number.
        """
        value = self.options.get(name)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{self.raw}: option {name}={value!r} is not a number") from None


def parse_device_url(url: str) -> DeviceURL:
    """Split and check a device URL (the model id is checked against the catalog when opening).

    Raises:
        ConfigError: unknown scheme, unknown or repeated option, missing part; the message shows the form.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in FORMS:
        shown = f"scheme {scheme!r}" if scheme else "no scheme"
        raise ConfigError(f"device URL {url!r} has {shown}{_expected()}")
    form = FORMS[scheme]
    options: dict[str, str] = {}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as e:
        raise ConfigError(f"device URL {url!r}: bad query ({e}); expected {form}") from e
    for key, value in pairs:
        if key not in OPTIONS[scheme]:
            known = ", ".join(sorted(OPTIONS[scheme]))
            raise ConfigError(
                f"device URL {url!r}: unknown option {key!r} (options: {known}); expected {form}"
            )
        if key in options:
            raise ConfigError(f"device URL {url!r}: option {key!r} given twice; expected {form}")
        options[key] = value
    target = parts.netloc + parts.path if scheme == "serial" else parts.netloc
    if scheme != "serial" and parts.path not in ("", "/"):
        raise ConfigError(f"device URL {url!r} has an unexpected path {parts.path!r}; expected {form}")
    if not target:
        raise ConfigError(f"device URL {url!r} names no {_target_name(scheme)}; expected {form}")
    if scheme == "tcp":
        host, sep, port = target.rpartition(":")
        if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"device URL {url!r}: {target!r} is not HOST:PORT; expected {form}")
    if scheme in ("serial", "tcp") and not options.get("model"):
        raise ConfigError(f"device URL {url!r} needs ?model=MODEL; expected {form}")
    if scheme == "sim" and options.get("link", "virtual") not in SIM_LINKS:
        raise ConfigError(f"device URL {url!r}: link must be one of {', '.join(SIM_LINKS)}; expected {form}")
    return DeviceURL(raw=url, scheme=scheme, target=target, options=options)


def _target_name(scheme: str) -> str:
    return {"sim": "model", "serial": "port", "tcp": "HOST:PORT", "ble": "address"}[scheme]


def opener(scheme: str) -> Opener:
    """The opener registered for a scheme, imported on first use.

    Raises:
        ConfigError: no opener for that scheme.
    """
    try:
        module_name, _, attr = OPENERS[scheme].partition(":")
    except KeyError:
        raise ConfigError(f"no opener for scheme {scheme!r}{_expected()}") from None
    return cast(Opener, getattr(importlib.import_module(module_name), attr))
