"""Picture commands: ``routines plot`` and the chart behind ``history --chart``.

The drawing is :mod:`massager_ctl.pictures`'s, imported when a picture is
drawn; this module only reads the catalog or journal and writes the file.
"""

from __future__ import annotations

from pathlib import Path

import typer

from massager_ctl.cli import PlainHelpCommand, routines_app
from massager_ctl.cli.context import complete_models, complete_routines, use
from massager_ctl.errors import ConfigError


@routines_app.command(
    "plot", cls=PlainHelpCommand, short_help="Draw a routine's timeline on a model as .svg or .png."
)
def routines_plot(
    ctx: typer.Context,
    routine_ref: str = typer.Argument(
        ..., metavar="ROUTINE", help="A library routine id or a YAML file.", autocompletion=complete_routines
    ),
    model: str = typer.Option(
        ...,
        "--model",
        metavar="MODEL",
        help="The catalog model to draw it for.",
        autocompletion=complete_models,
    ),
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help="Where to write (.svg or .png)."),
) -> None:
    """Draw a routine's timeline on a model (levels after your caps, heat, head changes, prompts)."""
    from massager_ctl import pictures
    from massager_ctl.orchestrator.plan import preflight

    state = use(ctx)
    fmt = pictures.format_for(output)
    plan = preflight(state.catalog.routine(routine_ref), state.catalog.device(model), state.settings.caps)
    _write(output, pictures.routine_timeline(plan, fmt=fmt))
    typer.echo(f"wrote {output}: {plan.routine.id} on {plan.profile.id}, {len(plan.steps)} steps")


def write_history_chart(output: Path, *, journal_path: Path) -> None:
    """Draw minutes per week for the last 12 local-time weeks from the journal at ``journal_path``.

    Raises:
        ConfigError: the suffix is neither .svg nor .png, matplotlib is missing,
            the journal cannot be opened or the file cannot be written.
    """
    import datetime as dt

    from massager_ctl import pictures
    from massager_ctl.journal import Journal

    fmt = pictures.format_for(output)
    with Journal(journal_path) as journal:
        weeks = journal.weekly()
    _write(output, pictures.weekly_history(weeks, today=dt.datetime.now().astimezone().date(), fmt=fmt))
    typer.echo(f"wrote {output}: minutes per week, last 12 weeks")


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from e
