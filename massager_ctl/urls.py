"""Device URLs, like pyserial's ``serial_for_url``; each scheme comes from :mod:`massager_ctl.registry`.

Forms of the built-in schemes (plug-ins add theirs, e.g. the simulator's ``sim://MODEL``)::

    serial:///dev/ttyUSB0?model=MODEL
    tcp://HOST:PORT?model=MODEL
    ble://ADDRESS[?model=MODEL&hci=SPEC&timeout=S]

URLs are split with :func:`urllib.parse.urlsplit` and ``netloc``/``path`` are read raw:
``.port`` would fail on a Bluetooth address and ``.hostname`` lower-cases it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from massager_ctl.errors import ConfigError
from massager_ctl.registry import Registry, default_registry


@dataclass(frozen=True, slots=True)
class DeviceURL:
    """A parsed device URL.

    ``target`` is what the scheme addresses, exactly as written: the model id (``sim``), the
    port path (``serial``), ``HOST:PORT`` (``tcp``) or the Bluetooth address (``ble``).
    ``model`` is the catalog model id the URL names, if it names one.
    """

    raw: str
    scheme: str
    target: str
    options: Mapping[str, str]
    model: str | None = None

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


def parse_device_url(url: str, *, registry: Registry | None = None) -> DeviceURL:
    """Split and check a device URL (the model id is checked against the catalog when opening).

    Raises:
        ConfigError: unknown scheme, unknown or repeated option, missing part; the message shows the form.
    """
    registry = registry or default_registry()
    parts = urlsplit(url.strip())
    name = parts.scheme.lower()
    if name not in registry.names():
        shown = f"scheme {name!r}" if name else "no scheme"
        raise ConfigError(f"device URL {url!r} has {shown}{registry.expected()}")
    scheme = registry.get(name)
    form = scheme.form
    options: dict[str, str] = {}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as e:
        raise ConfigError(f"device URL {url!r}: bad query ({e}); expected {form}") from e
    for key, value in pairs:
        if key not in scheme.options:
            known = ", ".join(sorted(scheme.options))
            raise ConfigError(
                f"device URL {url!r}: unknown option {key!r} (options: {known}); expected {form}"
            )
        if key in options:
            raise ConfigError(f"device URL {url!r}: option {key!r} given twice; expected {form}")
        options[key] = value
    target = parts.netloc + parts.path if scheme.target_in_path else parts.netloc
    if not scheme.target_in_path and parts.path not in ("", "/"):
        raise ConfigError(f"device URL {url!r} has an unexpected path {parts.path!r}; expected {form}")
    if not target:
        raise ConfigError(f"device URL {url!r} names no {scheme.target}; expected {form}")
    if scheme.needs_model and not options.get("model"):
        raise ConfigError(f"device URL {url!r} needs ?model=MODEL; expected {form}")
    model = target if scheme.target_is_model else options.get("model")
    parsed = DeviceURL(raw=url, scheme=name, target=target, options=options, model=model)
    if scheme.check is not None:
        scheme.check(parsed)
    return parsed
