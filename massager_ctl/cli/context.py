"""What every command needs: the settings (with the root flags) and the catalog built from them.

One :class:`CliContext` per invocation, made by the root callback and kept in
``ctx.obj``; both are read on first use so ``--help`` never builds them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from massager_ctl.errors import ConfigError

if TYPE_CHECKING:
    from massager_ctl.catalog import Catalog
    from massager_ctl.config import Settings
    from massager_ctl.errors import Problem
    from massager_ctl.mqtt.url import BrokerConfig
    from massager_ctl.urls import DeviceURL

# a BD_ADDR as BlueZ and Windows show it, or the UUID macOS gives a peripheral instead
_BLE_ADDRESS = re.compile(
    r"(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}"
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)


class CliContext:
    """The settings and catalog of one ``massager-ctl`` invocation, each built once when first asked for."""

    def __init__(self, *, flags: Mapping[str, Any]) -> None:
        self.flags = dict(flags)
        self._settings: Settings | None = None
        self._catalog: Catalog | None = None

    @property
    def settings(self) -> Settings:
        """The effective settings.

        Raises:
            ConfigError: the config file, an environment variable or a flag is invalid.
        """
        if self._settings is None:
            from massager_ctl.config import load_settings

            self._settings = load_settings(flags=self.flags)
        return self._settings

    @property
    def catalog(self) -> Catalog:
        """Built-in models and routines plus the user's; a broken user file is a warning, not a failure."""
        if self._catalog is None:
            from massager_ctl.catalog import Catalog

            s = self.settings
            self._catalog = Catalog(
                device_dirs=[s.user_devices_dir], routine_dirs=[s.user_routines_dir], warn=_warn_skipped
            )
        return self._catalog

    def broker(self, url: str | None, *, ca_file: Path | None = None) -> BrokerConfig:
        """The broker at ``url`` (default: the mqtt_url setting), with the password from the settings.

        Raises:
            ConfigError: no broker URL, or a malformed one.
        """
        from massager_ctl.mqtt.url import PASSWORD_ENV, parse_broker_url

        url = url or self.settings.mqtt_url
        if not url:
            raise ConfigError("no MQTT broker: give --mqtt mqtt://host[:port] (or set mqtt_url)")
        # the settings read MASSAGER_MQTT_PASSWORD and config.toml alike; nothing else looks at either
        secret = self.settings.mqtt_password
        environ = {PASSWORD_ENV: secret.get_secret_value()} if secret is not None else {}
        return parse_broker_url(url, ca_file=ca_file, environ=environ)


WIRE_LOG_OPTION = typer.Option(
    None,
    "--wire-log",
    metavar="FILE",
    help="Write every frame on the wire to FILE as JSON lines (t, dir tx/rx, hex), for a bug report.",
)


def use(ctx: typer.Context) -> CliContext:
    """The invocation's context (made by the root callback)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):  # a command invoked without the root callback (library use)
        obj = ctx.find_root().obj = CliContext(flags={})
    return obj


def device_url(url: str) -> DeviceURL:
    """Parse a device URL, also refusing a Bluetooth address that cannot be one.

    Raises:
        ConfigError: unknown scheme or option, or a malformed address.
    """
    from massager_ctl.urls import parse_device_url

    parsed = parse_device_url(url)
    if parsed.scheme == "ble" and not _BLE_ADDRESS.fullmatch(parsed.target):
        raise ConfigError(
            f"{parsed.target!r} is not a Bluetooth address; expected AA:BB:CC:DD:EE:FF"
            " (or the UUID macOS shows), as in ble://AA:BB:CC:DD:EE:FF?model=MODEL"
        )
    return parsed


def _warn_skipped(problem: Problem) -> None:
    typer.echo(f"warning: {problem} (file skipped)", err=True)


def complete_routines(ctx: typer.Context, incomplete: str) -> list[str]:
    """Library routine ids for shell completion (best effort: nothing when the catalog cannot load)."""
    return _complete(ctx, incomplete, routines=True)


def complete_models(ctx: typer.Context, incomplete: str) -> list[str]:
    """Catalog model ids for shell completion (best effort: nothing when the catalog cannot load)."""
    return _complete(ctx, incomplete, routines=False)


def _complete(ctx: typer.Context, incomplete: str, *, routines: bool) -> list[str]:
    from massager_ctl.catalog import Catalog
    from massager_ctl.errors import MassagerError

    try:
        s = use(ctx).settings
        # quiet: a warning on the terminal would land in the middle of the line being completed
        catalog = Catalog(
            device_dirs=[s.user_devices_dir], routine_dirs=[s.user_routines_dir], warn=lambda _: None
        )
        ids = catalog.routines() if routines else catalog.devices()
    except MassagerError:
        return []
    return sorted(i for i in ids if i.startswith(incomplete))
