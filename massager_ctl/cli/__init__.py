"""The ``massager-ctl`` command line.

Exit codes: 0 ok, 1 runtime failure (device, link, broker), 2 invalid input
(bad routine, URL, option or setting), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from massager_ctl import __version__
from massager_ctl.errors import CatalogError, ConfigError, MassagerError, PreflightError

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="massager-ctl",
    help="Connect a back massager, run programmed routines, publish sessions over MQTT.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
devices_app = typer.Typer(help="Device models and connected devices.", no_args_is_help=True)
routines_app = typer.Typer(help="The routine library.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")
app.add_typer(routines_app, name="routines")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"massager-ctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """massager-ctl: a controller for consumer electric back massagers."""


# command modules: each registers its commands on the apps above when imported.
from massager_ctl.cli import catalog, devices_live, pictures_cmd, serve, session  # noqa: E402, F401


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, mapping the project's errors to exit codes and one-line messages."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app(args=argv)  # standalone: usage errors exit 2, typer.Exit(code) exits with code
    except (CatalogError, ConfigError, PreflightError) as e:
        err.print(str(e), markup=False)
        sys.exit(EXIT_BAD_INPUT)
    except MassagerError as e:
        err.print(f"error: {e}", markup=False)
        sys.exit(EXIT_FAILURE)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
