"""``massager-ctl serve``: a device on MQTT, running routines on remote commands."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from massager_ctl.cli import PlainHelpCommand, app
from massager_ctl.cli.context import WIRE_LOG_OPTION, complete_routines, device_url, use
from massager_ctl.cli.serve_plan import plan_devices
from massager_ctl.errors import ConfigError, ControlError, MassagerError

if TYPE_CHECKING:
    from massager_ctl.models import DeviceProfile
    from massager_ctl.orchestrator.controller import Outcome
    from massager_ctl.orchestrator.service import DeviceService

log = logging.getLogger("massager_ctl.serve")

# the same values as massager_ctl.mqtt.topics (a test checks): importing it here would load MQTT for --help
PREFIX = "massager"
DISCOVERY_PREFIX = "homeassistant"


@app.command(
    cls=PlainHelpCommand, short_help="Serve devices over MQTT or a web page: run routines on command."
)
def serve(
    ctx: typer.Context,
    devices: list[str] = typer.Option(
        [],
        "--device",
        metavar="URL",
        help="Device URL, e.g. sim://pulse-gun-p5 or ble://ADDR?model=M; repeat for several devices "
        "(default: the [[devices]] tables of config.toml).",
    ),
    mqtt: str | None = typer.Option(
        None,
        "--mqtt",
        metavar="URL",
        help="Broker URL mqtt://user@host:port or mqtts://... (user and port optional). Give the password "
        "in MASSAGER_MQTT_PASSWORD (or the config file), not in the URL: a password in --mqtt shows in ps. "
        "Default: the mqtt_url setting, unless --http is given.",
    ),
    http: str | None = typer.Option(
        None,
        "--http",
        metavar="[HOST:]PORT",
        help="Serve a phone remote (a web page) on HOST:PORT, default host 127.0.0.1 (one device only). Any"
        " other host needs the pairing token the terminal prints as a URL and QR code.",
    ),
    prefix: str = typer.Option(PREFIX, "--prefix", metavar="TEXT", help="Topic prefix."),
    device_ids: list[str] = typer.Option(
        [],
        "--device-id",
        metavar="ID",
        help="Device id in topics (default: model + address); with several --device, one each, in order.",
    ),
    controller_id: str | None = typer.Option(
        None,
        "--controller-id",
        metavar="ID",
        help="Names this controller on the broker (default: the controller_id setting, else the host name).",
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
        help="Routine a start command without one runs (a device's own routine in config.toml wins).",
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
    """Keep devices connected and idle-safe; run routines on MQTT commands or from a web page.

    Each device has its own session, topics, availability and broker connection: one device's
    lost link or failure leaves the others alone. SIGINT or SIGTERM stops every session, leaves
    each device with motor and heat off (or says which could not confirm it), publishes
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
    import socket

    from massager_ctl.mqtt.presence import mqtt_front
    from massager_ctl.mqtt.remote import MQTT_STOP_REASON
    from massager_ctl.mqtt.topics import check_device_id, check_prefix, device_id_from_url
    from massager_ctl.orchestrator import preflight
    from massager_ctl.orchestrator.controller import Controller, DeviceSpec
    from massager_ctl.orchestrator.device import DeviceConnector
    from massager_ctl.orchestrator.session_commands import REMOTE_STOP_REASON
    from massager_ctl.transports.wirelog import open_wire_log
    from massager_ctl.web import web_bind

    state = use(ctx)
    user = state.settings
    if not (mqtt or http or user.mqtt_url):
        raise ConfigError(
            "serve needs a remote: --mqtt mqtt://host[:port] (or the mqtt_url setting), --http [HOST:]PORT,"
            " or both"
        )
    bind = web_bind(http) if http is not None else None
    # --http alone serves the page only; the mqtt_url setting is the broker when --mqtt is left out otherwise.
    broker = state.broker(mqtt, ca_file=ca_file) if mqtt or bind is None else None
    cat = state.catalog
    prefix = check_prefix(prefix)
    discovery_prefix = check_prefix(discovery_prefix, what="discovery prefix")
    ctl_id = check_device_id(controller_id or user.controller_id or _host_id(socket.gethostname()))

    def model_of(url: str) -> str:
        model = device_url(url).model
        if model is None:
            raise ConfigError(f"serve needs to know the model of {url!r}: add ?model=MODEL")
        return cat.device(model).id

    plans = plan_devices(
        urls=devices,
        ids=device_ids,
        configured=user.devices,
        routine=routine,
        model_of=model_of,
        default_id=device_id_from_url,
        check_id=check_device_id,
    )
    specs = []
    for plan in plans:
        risk = cat.device(plan.model).unattended_risk
        if risk is not None and not allow_unconfirmed:
            raise ConfigError(
                f"serve refuses {plan.url}: {risk}. Serving runs it unattended;"
                " pass --allow-unconfirmed to accept that"
            )
        chosen = plan.routine
        if chosen is not None:
            # The routine select offers only what passes pre-flight: a default must too, told before serving.
            chosen = preflight(cat.routine(chosen), cat.device(plan.model), user.caps).routine.id
        specs.append(
            DeviceSpec(
                device_id=plan.device_id, url=plan.url, model=plan.model, name=plan.name, routine=chosen
            )
        )
    several = len(specs) > 1
    if several and bind is not None:
        raise ConfigError("--http serves one device's page: give one --device (several devices: use --mqtt)")
    on_broker = (
        mqtt_front(
            broker=broker,
            catalog=cat,
            caps=user.caps,
            controller_id=ctl_id,
            prefix=prefix,
            discovery_prefix=discovery_prefix,
            discovery=discovery,
        )
        if broker is not None
        else None
    )

    @contextlib.asynccontextmanager
    async def front(service: DeviceService, spec: DeviceSpec, profile: DeviceProfile) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as remotes:
            if on_broker is not None and broker is not None:
                await remotes.enter_async_context(on_broker(service, spec, profile))
                typer.echo(f"serving {spec.url} as {prefix}/{spec.device_id} on {broker.display}", err=True)
            if bind is not None:
                from massager_ctl.web.remote import ServiceRemote
                from massager_ctl.web.server import web_remote

                page = ServiceRemote(service, catalog=cat, caps=user.caps)
                await remotes.enter_async_context(web_remote(page, bind, announce=_to_stderr))
            yield

    def failed(spec: DeviceSpec, error: Exception) -> None:
        if several:  # one device alone: its error is the command's, said once at the end
            typer.echo(f"error: device {spec.device_id}: {error}", err=True)

    @contextlib.asynccontextmanager
    async def open_device(spec: DeviceSpec) -> AsyncIterator[DeviceConnector]:
        path = wire_log
        if path is not None and several:  # one log per device: FILE.stem.<id>.suffix
            path = path.with_name(f"{path.stem}.{spec.device_id}{path.suffix}")
        async with (
            open_wire_log(path) as frames,
            DeviceConnector(spec.url, catalog=cat, wire_log=frames) as connector,
        ):
            yield connector

    async def main() -> list[Outcome]:
        controller = Controller(
            specs,
            catalog=cat,
            caps=user.caps,
            front=front,
            auto_confirm=auto_confirm,
            stop_reason=MQTT_STOP_REASON if bind is None else REMOTE_STOP_REASON,
            open_device=open_device,
            on_failed=failed,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await controller.run(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(sig)

    outcomes = asyncio.run(main())
    _report(outcomes)


def _host_id(host: str) -> str:
    """The host name as an id (Home Assistant's characters only)."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in host.split(".")[0])[:64] or "controller"


def _report(outcomes: list[Outcome]) -> None:
    """Say how each device ended; a failed device makes the exit status 1.

    Raises:
        MassagerError: the error of the one device served, or a summary of the devices that failed.
    """
    failed = [o for o in outcomes if o.error is not None]
    if len(outcomes) == 1:
        (only,) = outcomes
        if isinstance(only.error, MassagerError):
            raise only.error
        if only.error is not None:
            raise ControlError(f"the device service crashed: {only.error!r}") from only.error
        typer.echo("stopped; the device is off" if only.safe else only.describe(), err=True)
        return
    for outcome in outcomes:
        typer.echo(outcome.describe(), err=True)
    if failed:
        raise ControlError(
            f"{len(failed)} of {len(outcomes)} devices failed: " + ", ".join(o.device_id for o in failed)
        )
    typer.echo(f"stopped; {sum(o.safe for o in outcomes)} of {len(outcomes)} devices confirmed off", err=True)


def _to_stderr(text: str) -> None:
    typer.echo(text, err=True)
