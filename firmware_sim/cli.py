"""The ``massager-sim`` command line: run a simulated massager as a process.

``massager-sim serve MODEL`` prints the URL to connect to as its first stdout line, then (with
``--json-state``) one JSON object per state change. Exit codes: 0 ok (also after SIGINT/SIGTERM),
1 runtime failure, 2 invalid input (unknown model, bad option, BLE front-end missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable
from types import FrameType

import typer

from firmware_sim.device import SimulatedDevice
from firmware_sim.families.core import ProductFaults
from firmware_sim.families.serve import serve_product, state_dict
from firmware_sim.faults import FaultSpec
from firmware_sim.firmware import Firmware, FirmwareState
from massager_ctl.catalog import Catalog
from massager_ctl.errors import CatalogError, ConfigError
from massager_ctl.models import DeviceProfile

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class StopSignals:
    """SIGINT and SIGTERM ask ``serve`` to stop, whenever they arrive: during start-up or while serving.

    Installed first thing in :func:`main` with plain ``signal.signal`` handlers that only set a flag and wake
    the loop, so a signal before the event loop runs is remembered instead of killing the process, and one
    during shutdown (after the loop's own handlers would be gone) is harmless.
    """

    def __init__(self) -> None:
        self.requested = False
        self._wake: Callable[[], None] | None = None

    def install(self) -> None:
        """Handle SIGINT and SIGTERM from now on, in place of the defaults (kill, KeyboardInterrupt)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if self._wake is not None:
            self._wake()

    async def wait(self) -> None:
        """Return once a stop was asked for (at once if one already was)."""
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(stopped.set)

        self._wake = wake
        try:
            if not self.requested:
                await stopped.wait()
        finally:
            self._wake = None


app = typer.Typer(
    name="massager-sim",
    help="Simulated massager firmware: serve a catalog model over a pty, TCP or BLE.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command("list")
def list_models() -> None:
    """List the models the simulator can run."""
    for profile in sorted(Catalog().devices().values(), key=lambda p: p.id):
        if profile.kind == "product":
            fronts = "pty" if profile.transport == "serial" else "ble"
        else:
            fronts = "pty, tcp" if profile.transport == "serial" else "ble"
        typer.echo(f"{profile.id:<22} {profile.protocol.family:<8} {fronts:<9} {profile.name}")


@app.command()
def serve(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model id from `massager-sim list`."),
    serial: str = typer.Option(
        "pty", "--serial", help="Serial models: 'pty' or 'tcp:PORT' (0 = any free port)."
    ),
    speed: float = typer.Option(1.0, "--speed", help="Run the firmware's clocks N times faster."),
    faults: str = typer.Option(
        "", "--faults", help="Faults to inject, e.g. 'drop_link_at=5,reconnect_after=2'."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed for reproducible faults."),
    json_state: bool = typer.Option(False, "--json-state", help="Print each state change as a JSON line."),
    head: str | None = typer.Option(
        None, "--head", help="Manual-head models: the head fitted at start (a head id, or 'none')."
    ),
    controls: bool = typer.Option(
        False, "--controls", help="Read person controls from stdin: 'fit HEAD|none', 'battery PCT'."
    ),
) -> None:
    """Serve one simulated device until SIGINT or SIGTERM; the first stdout line is its URL."""
    stop = ctx.obj if isinstance(ctx.obj, StopSignals) else None
    if stop is None:  # not started through main(): listen from here on
        stop = StopSignals()
        stop.install()
    if not speed > 0:
        raise ConfigError(f"--speed must be positive, got {speed}")
    profile = Catalog().device(model)
    if profile.kind == "product":
        if serial != "pty" or head is not None or controls or seed is not None:
            raise ConfigError(
                f"{model} is a real product, served as itself: --serial, --head, --controls and --seed"
                " do not apply"
            )
        asyncio.run(
            _serve_product(
                profile, stop=stop, speed=speed, faults=ProductFaults.parse(faults), json_state=json_state
            )
        )
        return
    fault_spec = FaultSpec.parse(faults)
    tcp_port = _tcp_port(serial) if profile.transport == "serial" else None
    asyncio.run(
        _serve(
            profile,
            stop=stop,
            speed=speed,
            faults=fault_spec,
            seed=seed,
            tcp_port=tcp_port,
            json_state=json_state,
            head=head,
            controls=controls,
        )
    )


def _tcp_port(option: str) -> int | None:
    if option == "pty":
        return None
    kind, _, port = option.partition(":")
    if kind != "tcp" or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"--serial {option!r} must be 'pty' or 'tcp:PORT'")
    return int(port)


async def _serve(
    profile: DeviceProfile,
    *,
    stop: StopSignals,
    speed: float,
    faults: FaultSpec,
    seed: int | None,
    tcp_port: int | None,
    json_state: bool,
    head: str | None,
    controls: bool,
) -> None:
    async with SimulatedDevice(profile, speed=speed, faults=faults, seed=seed) as device:
        if head is not None:
            try:
                person_control(device.firmware, f"fit {head}")
            except ValueError as e:
                raise ConfigError(f"--head: {e}") from e
        if profile.transport == "ble":
            url = await device.serve_ble()
        elif tcp_port is None:
            url = await device.serve_pty()
        else:
            url = await device.serve_tcp(port=tcp_port)
        if stop.requested:
            return  # told to stop while starting: never announce a device that is going away
        print(url, flush=True)
        if json_state:
            emit = _json_printer()
            emit(device.firmware.state)
            device.firmware.subscribe(emit)
        if not controls:
            await stop.wait()
            return
        reader = asyncio.create_task(_read_controls(device.firmware))
        try:
            await stop.wait()
        finally:
            reader.cancel()
            await asyncio.wait({reader})


async def _serve_product(
    profile: DeviceProfile, *, stop: StopSignals, speed: float, faults: ProductFaults, json_state: bool
) -> None:
    async with serve_product(profile, speed=speed, faults=faults) as (firmware, url):
        if stop.requested:
            return
        print(url, flush=True)
        if json_state:

            def emit(state: object) -> None:
                with contextlib.suppress(BrokenPipeError, ValueError):
                    print(json.dumps(state_dict(state)), flush=True)

            emit(firmware.state)
            firmware.subscribe(emit)
        await stop.wait()


def person_control(firmware: Firmware, command: str) -> None:
    """Apply one person control: ``fit HEAD`` (``fit none`` takes it off) or ``battery PCT``.

    Raises:
        ValueError: an unknown control, or one the model cannot do.
    """
    words = command.split()
    match words:
        case ["fit", head_id]:
            firmware.fit_head(None if head_id == "none" else head_id)
        case ["battery", pct]:
            try:
                value = float(pct)
            except ValueError:
                raise ValueError(f"battery {pct!r} is not a number") from None
            firmware.set_battery(value)
        case _:
            raise ValueError(f"unknown control {command.strip()!r}; use 'fit HEAD|none' or 'battery PCT'")


async def _read_controls(firmware: Firmware) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (OSError, ValueError) as e:
        print(f"massager-sim: cannot read controls from stdin: {e}", file=sys.stderr, flush=True)
        return
    while line := await reader.readline():
        if not line.strip():
            continue
        try:
            person_control(firmware, line.decode(errors="replace"))
        except ValueError as e:
            print(f"massager-sim: {e}", file=sys.stderr, flush=True)


def _json_printer() -> Callable[[FirmwareState], None]:
    def emit(state: FirmwareState) -> None:
        # once nobody reads our stdout the device keeps running regardless
        with contextlib.suppress(BrokenPipeError, ValueError):
            print(json.dumps(state.as_dict()), flush=True)

    return emit


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, mapping invalid input to exit code 2 and runtime failures to 1."""
    stop = StopSignals()
    stop.install()  # before anything slow (catalog, loop, ports): a stop during start-up still exits 0
    logging.basicConfig(level=logging.WARNING, format="massager-sim: %(levelname)s %(name)s: %(message)s")
    try:
        app(args=argv, obj=stop)
    except (ConfigError, CatalogError) as e:
        print(f"massager-sim: {e}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except OSError as e:
        print(f"massager-sim: {e}", file=sys.stderr)
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    main()
