"""Live device commands: ``devices scan`` (find devices) and ``devices try URL`` (smoke-test one).

The work is in :mod:`massager_ctl.cli.devices_live`, imported when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from massager_ctl.cli import PlainHelpCommand, devices_app
from massager_ctl.cli.context import WIRE_LOG_OPTION, device_url, use

if TYPE_CHECKING:
    from massager_ctl.cli.devices_live import Found


@devices_app.command("scan", cls=PlainHelpCommand, short_help="Find massagers over BLE and USB serial.")
def devices_scan(
    ctx: typer.Context,
    timeout: float = typer.Option(
        5.0, "--timeout", min=0.5, metavar="SECONDS", help="How long to listen for BLE advertisements."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    hci: str | None = typer.Option(
        None, "--hci", metavar="SPEC", help="Scan through a Bumble HCI transport (usb:0, tcp-client:H:P)."
    ),
) -> None:
    """Find massagers: BLE advertisements and USB-serial ports matched to catalog models."""
    import asyncio
    from dataclasses import asdict

    from massager_ctl.cli.devices_live import scan

    found = asyncio.run(
        scan(use(ctx).catalog, scan_s=timeout, hci=hci, warn=lambda m: typer.echo(m, err=True))
    )
    if as_json:
        typer.echo(json.dumps([asdict(f) for f in found], indent=2))
        return
    if not found:
        typer.echo("no devices found")
    for f in found:
        typer.echo("\t".join([f.url, f.name or "-", f.detail, _recognised(f)]))


def _recognised(found: Found) -> str:
    if found.confidence is None:
        return "(no catalog model)"
    model = found.model or "one of " + ", ".join(found.candidates)
    facts = f"; protocol facts {found.protocol_confidence}" if found.protocol_confidence else ""
    protocol = found.protocol or "?"
    return f"{model}, protocol {protocol}, match {found.confidence} by {found.matched_by}{facts}"


@devices_app.command(
    "try", cls=PlainHelpCommand, short_help="Smoke-test a device: heads, intensity, heat, then a stop."
)
def devices_try(
    ctx: typer.Context,
    url: str = typer.Argument(
        ..., metavar="URL", help="Device URL, e.g. sim://pulse-gun-p5 or serial:///dev/ttyUSB0?model=M."
    ),
    dwell: float = typer.Option(
        0.5, "--dwell", min=0.0, metavar="SECONDS", help="How long to hold each step."
    ),
    wire_log: Path | None = WIRE_LOG_OPTION,
) -> None:
    """Connect, show identity, battery and state, step through heads, intensity and heat, then stop.

    SIGINT / SIGTERM stop the device (confirmed) and exit 130 / 143.
    """
    import asyncio

    from massager_ctl.cli.devices_live import try_until_signalled

    device_url(url)  # a malformed URL is bad input before anything opens
    code = asyncio.run(
        try_until_signalled(url, use(ctx).catalog, dwell_s=dwell, echo=typer.echo, wire_log=wire_log)
    )
    if code:
        raise typer.Exit(code)
