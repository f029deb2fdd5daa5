"""The ``massager-ctl`` command line.

Exit codes: 0 ok, 1 runtime failure (device, link, broker), 2 invalid input
(bad routine, URL, option or setting), 130 interrupted by Ctrl-C (SIGINT),
143 terminated (SIGTERM).

Start-up stays fast: this package and the command modules import only typer
and the standard library at the top; each command imports what it uses when it
runs, so ``--help`` and the catalog commands never load MQTT, BLE or serial code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer._click import Context, HelpFormatter
from typer.core import TyperCommand

from massager_ctl.errors import CatalogError, ConfigError, MassagerError, PreflightError

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class PlainHelpCommand(TyperCommand):
    """A command whose help lists each argument by its metavar, without typer's ``<str>`` type labels."""

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        args: list[tuple[str, str]] = []
        opts: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = (param.metavar or (param.name or "").upper()) + ("..." if param.nargs != 1 else "")
                args.append((name, getattr(param, "help", None) or ""))
            elif (record := param.get_help_record(ctx)) is not None:
                opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


app = typer.Typer(
    name="massager-ctl",
    help="Connect a back massager, run programmed routines, publish sessions over MQTT.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no type labels, and no rich help renderer to import at start-up
)
devices_app = typer.Typer(
    help="Device models and connected devices.", no_args_is_help=True, rich_markup_mode=None
)
routines_app = typer.Typer(help="The routine library.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(devices_app, name="devices")
app.add_typer(routines_app, name="routines")


def _show_version(value: bool) -> None:
    if value:
        from massager_ctl import __version__

        typer.echo(f"massager-ctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    devices_dir: Path | None = typer.Option(
        None, "--devices-dir", metavar="DIR", help="Your own device models (default: CONFIG_DIR/devices)."
    ),
    routines_dir: Path | None = typer.Option(
        None, "--routines-dir", metavar="DIR", help="Your own routines (default: CONFIG_DIR/routines)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """massager-ctl: a controller for consumer electric back massagers."""
    from massager_ctl.cli.context import CliContext

    flags = {"devices_dir": devices_dir, "routines_dir": routines_dir}
    ctx.obj = CliContext(flags={k: v for k, v in flags.items() if v is not None})


# command modules: each registers its commands on the apps above when imported.
from massager_ctl.cli import (  # noqa: E402, F401
    catalog,
    devices_cmd,
    fleet_cmd,
    pictures_cmd,
    serve,
    session,
    settings_cmd,
)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, mapping the project's errors to exit codes and one-line messages on stderr."""
    try:
        # standalone: usage errors exit 2, typer.Exit(code) exits with code; the name is fixed so that
        # `python -m massager_ctl` prints the same usage and completion script as the installed command
        app(args=argv, prog_name="massager-ctl")
    except PreflightError as e:
        from massager_ctl.cli.problems import merge_problems

        _error("\n".join(merge_problems(e.problems)))
        sys.exit(EXIT_BAD_INPUT)
    except (CatalogError, ConfigError) as e:
        _error(str(e))
        sys.exit(EXIT_BAD_INPUT)
    except MassagerError as e:
        _error(f"error: {e}")
        sys.exit(EXIT_FAILURE)
    except KeyboardInterrupt:
        _error("interrupted")
        sys.exit(EXIT_INTERRUPTED)


def _error(message: str) -> None:
    typer.echo(message, err=True)
