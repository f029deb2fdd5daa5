"""``massager-ctl fleet``: every controller and device on a broker, read-only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from massager_ctl.cli import PlainHelpCommand, app
from massager_ctl.cli.context import use
from massager_ctl.cli.serve import DISCOVERY_PREFIX, PREFIX

# Home and clear: a live table redrawn in place on a terminal.
_REDRAW = "\x1b[H\x1b[2J"


@app.command(cls=PlainHelpCommand, short_help="List every controller and device on the broker.")
def fleet(
    ctx: typer.Context,
    mqtt: str | None = typer.Option(
        None,
        "--mqtt",
        metavar="URL",
        help="Broker URL mqtt://user@host:port or mqtts://... Give the password in MASSAGER_MQTT_PASSWORD "
        "(or the config file). Default: the mqtt_url setting.",
    ),
    prefix: str = typer.Option(PREFIX, "--prefix", metavar="TEXT", help="Topic prefix."),
    discovery_prefix: str = typer.Option(
        DISCOVERY_PREFIX, "--discovery-prefix", metavar="TEXT", help="Home Assistant's discovery prefix."
    ),
    ca_file: Path | None = typer.Option(
        None, "--ca-file", metavar="FILE", help="CA bundle for an mqtts:// broker."
    ),
    watch: bool = typer.Option(False, "--watch", "-w", help="Keep the view live until Ctrl-C."),
    as_json: bool = typer.Option(
        False, "--json", help="Machine-readable output (with --watch: one JSON document a line)."
    ),
    settle: float = typer.Option(
        1.0, "--settle", metavar="SECONDS", min=0.05, help="How long to wait for the retained topics."
    ),
) -> None:
    """Show availability, model, session status, step and remaining time of every served device.

    Reads the retained topics only: it publishes nothing and sends no command, so a read-only
    login (the example ACL's guest) is enough. A device whose controller is not online shows no
    status (its last one is in the JSON as last_status).
    """
    import asyncio
    import contextlib
    import signal

    from massager_ctl.fleet import Fleet, render_table, snapshot
    from massager_ctl.fleet import watch as watch_fleet
    from massager_ctl.mqtt.topics import check_prefix

    broker = use(ctx).broker(mqtt, ca_file=ca_file)
    prefix = check_prefix(prefix)
    discovery_prefix = check_prefix(discovery_prefix, what="discovery prefix")

    def show(view: Fleet) -> None:
        if as_json:
            typer.echo(json.dumps({"broker": broker.display, **view.to_json()}, separators=(",", ":")))
        else:
            redraw = _REDRAW if sys.stdout.isatty() else ""
            typer.echo(f"{redraw}{render_table(view)}\n")

    if not watch:
        view = asyncio.run(
            snapshot(broker, prefix=prefix, discovery_prefix=discovery_prefix, settle_s=settle)
        )
        if as_json:
            typer.echo(json.dumps({"broker": broker.display, **view.to_json()}, indent=2))
        else:
            typer.echo(render_table(view))
        return

    async def live() -> None:
        task = asyncio.create_task(
            watch_fleet(broker, on_change=show, prefix=prefix, discovery_prefix=discovery_prefix)
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(sig)

    asyncio.run(live())
