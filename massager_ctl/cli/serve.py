"""``massager-ctl serve``: a device on MQTT, running routines on remote commands."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from massager_ctl.cli import PlainHelpCommand, app
from massager_ctl.cli.context import WIRE_LOG_OPTION, complete_routines, device_url, use
from massager_ctl.errors import ConfigError

log = logging.getLogger("massager_ctl.serve")

# the same values as massager_ctl.mqtt.topics (a test checks): importing it here would load MQTT for --help
PREFIX = "massager"
DISCOVERY_PREFIX = "homeassistant"


@app.command(cls=PlainHelpCommand, short_help="Serve a device over MQTT: run routines on remote commands.")
def serve(
    ctx: typer.Context,
    device: str = typer.Option(
        ..., "--device", metavar="URL", help="Device URL, e.g. sim://pulse-gun-p5 or ble://ADDR?model=M."
    ),
    mqtt: str | None = typer.Option(
        None,
        "--mqtt",
        metavar="URL",
        help="Broker URL mqtt://user@host:port or mqtts://... (user and port optional). Give the password "
        "in MASSAGER_MQTT_PASSWORD (or the config file), not in the URL: a password in --mqtt shows in ps. "
        "Default: the mqtt_url setting.",
    ),
    prefix: str = typer.Option(PREFIX, "--prefix", metavar="TEXT", help="Topic prefix."),
    device_id: str | None = typer.Option(
        None, "--device-id", metavar="ID", help="Device id in topics (default: model + address)."
    ),
    discovery: bool = typer.Option(True, "--discovery/--no-discovery", help="Home Assistant discovery."),
    discovery_prefix: str = typer.Option(
        DISCOVERY_PREFIX, "--discovery-prefix", metavar="TEXT", help="Home Assistant's discovery prefix."
    ),
    ca_file: Path | None = typer.Option(
        None, "--ca-file", metavar="FILE", help="CA bundle for an mqtts:// broker."
    ),
    routine: str | None = typer.Option(
        None,
        "--routine",
        metavar="ROUTINE",
        help="Routine a start command without one runs.",
        autocompletion=complete_routines,
    ),
    auto_confirm: bool = typer.Option(
        False, "--yes", "-y", help="Confirm every wait for the person at once (else send a confirm command)."
    ),
    allow_unconfirmed: bool = typer.Option(
        False,
        "--allow-unconfirmed",
        help="Serve a model with neither feedback nor fail-safe (its stop is sent, never confirmed).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log connections and commands."),
    wire_log: Path | None = WIRE_LOG_OPTION,
) -> None:
    """Keep a device connected and idle-safe; run routines on MQTT commands and publish everything.

    SIGINT or SIGTERM stops any session, leaves the device with motor and heat off, publishes
    'offline' and exits.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(message)s",
    )
    import asyncio
    import contextlib
    import signal

    from massager_ctl.mqtt.discovery import runnable_routines
    from massager_ctl.mqtt.remote import RemoteController
    from massager_ctl.mqtt.service import MqttStatus
    from massager_ctl.mqtt.topics import device_id_from_url, make_topics
    from massager_ctl.orchestrator import preflight
    from massager_ctl.orchestrator.device import DeviceConnector
    from massager_ctl.transports.wirelog import open_wire_log

    state = use(ctx)
    user = state.settings
    if not (mqtt or user.mqtt_url):
        raise ConfigError("serve needs a broker: --mqtt mqtt://host[:port] (or the mqtt_url setting)")
    broker = state.broker(mqtt, ca_file=ca_file)
    parsed = device_url(device)
    model = parsed.model
    if model is None:
        raise ConfigError(f"serve needs to know the model of {device!r}: add ?model=MODEL")
    cat = state.catalog
    profile = cat.device(model)
    risk = profile.unattended_risk
    if risk is not None and not allow_unconfirmed:
        raise ConfigError(
            f"serve refuses it: {risk}. Serving runs it unattended; pass --allow-unconfirmed to accept that"
        )
    topics = make_topics(
        prefix=prefix,
        device_id=device_id or device_id_from_url(device, profile.id),
        discovery_prefix=discovery_prefix,
    )
    runnable = runnable_routines(cat.routines().values(), profile, user.caps)
    if routine is not None:
        # The routine select offers only what passes pre-flight: the default must too, told before serving.
        routine = preflight(cat.routine(routine), profile, user.caps).routine.id

    async def main() -> None:
        async with open_wire_log(wire_log) as frames:
            await serve_with(DeviceConnector(device, catalog=cat, wire_log=frames))

    async def serve_with(connector: DeviceConnector) -> None:
        controller = RemoteController(
            connect=connector.connect,
            device_url=device,
            profile=profile,
            catalog=cat,
            caps=user.caps,
            selected=routine,
            speed=connector.speed,
            auto_confirm=auto_confirm,
            fit_head=connector.fit_head,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            async with (
                connector,
                MqttStatus(
                    broker,
                    topics=topics,
                    profile=profile,
                    handler=controller,
                    discovery=discovery,
                    routines=runnable,
                    states_from_events=False,
                ) as status,
            ):
                controller.attach(status)
                typer.echo(f"serving {device} as {topics.base} on {broker.display}", err=True)
                await controller.run(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(sig)

    asyncio.run(main())
    typer.echo("stopped; the device is off", err=True)
