"""``massager-ctl config``: the effective settings and where each one came from."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from massager_ctl.cli import PlainHelpCommand, app
from massager_ctl.cli.context import use

if TYPE_CHECKING:
    from massager_ctl.config import Origin, Settings


@app.command(
    "config", cls=PlainHelpCommand, short_help="Show the effective settings and where each came from."
)
def config_command(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
) -> None:
    """Show the effective settings (caps, folders, default device, broker) and where each came from.

    Flags win over MASSAGER_* environment variables, which win over config.toml, which wins over
    the defaults. The MQTT password is never shown, only whether one is set.
    """
    from massager_ctl.config import config_file, setting_origins

    state = use(ctx)
    settings = state.settings  # first: it reports invalid values
    origins = setting_origins(flags=state.flags)
    rows = [(name, _value(settings, name), origins[name]) for name in origins]
    path = config_file()
    if as_json:
        payload = {
            "config_file": {"path": str(path), "exists": path.is_file()},
            "settings": {
                name: {"value": value, "from": origin.kind, "source": origin.detail}
                for name, value, origin in rows
            },
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(f"config file: {path}{'' if path.is_file() else ' (none yet)'}")
    width = max(len(name) for name, _, _ in rows)
    value_width = min(48, max(len(_text(value)) for _, value, _ in rows))
    for name, value, origin in rows:
        typer.echo(f"  {name:<{width}}  {_text(value):<{value_width}}  {_origin_text(origin)}")


def _value(settings: Settings, name: str) -> Any:
    if name == "mqtt_password":
        return "(set)" if settings.mqtt_password is not None else None
    if name == "mqtt_url":
        return _without_password(settings.mqtt_url) if settings.mqtt_url else None
    if name == "devices":
        return ", ".join(f"{d.id or '?'}={d.url}" for d in settings.devices) or None
    if name == "devices_dir":
        return str(settings.user_devices_dir)
    if name == "routines_dir":
        return str(settings.user_routines_dir)
    holder: Any = settings
    for part in name.split("."):
        holder = getattr(holder, part)
    return str(holder) if not isinstance(holder, bool | int | float | str) else holder


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _origin_text(origin: Origin) -> str:
    if origin.kind == "default":
        return "default"
    if origin.kind == "file":
        return f"file {origin.detail}"
    if origin.kind == "env":
        return f"env {origin.detail}"
    return f"flag {origin.detail}"


def _without_password(url: str) -> str:
    """The broker URL with any password in it replaced, for display."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostpart = rest.partition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{hostpart}"
