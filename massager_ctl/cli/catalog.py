"""Catalog commands: ``devices list``, ``routines list|show|validate|schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from massager_ctl.cli import EXIT_BAD_INPUT, PlainHelpCommand, devices_app, routines_app
from massager_ctl.cli.context import complete_models, complete_routines, use
from massager_ctl.errors import CatalogError
from massager_ctl.ui.timefmt import clock

if TYPE_CHECKING:
    from rich.table import Table

    from massager_ctl.models import DeviceProfile, Routine

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")


def print_table(table: Table) -> None:
    from rich.console import Console

    Console().print(table)


def device_summary(profile: DeviceProfile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "maker": profile.maker,
        "kind": profile.kind,
        "products": profile.products,
        "transport": profile.transport,
        "protocol": profile.protocol.family,
        "confidence": profile.confidence,
        "failsafe": _failsafe_data(profile),
        "sources": [source.model_dump() for source in profile.sources],
        "control": {cap: spec.model_dump() for cap, spec in profile.control.items()},
        "ble_name": profile.ble.local_name if profile.ble else None,
        "heads": [{"id": h.id, "name": h.name, "kind": h.kind, "change": h.change} for h in profile.heads],
        "head_detection": profile.head_detection,
        "intensity": profile.intensity.model_dump(),
        "heat": profile.heat.model_dump() if profile.heat else None,
        "modes": profile.modes,
        "directions": profile.directions,
        "battery": profile.battery,
        "watchdog_timeout_s": profile.watchdog_spec.timeout_s if profile.watchdog_spec else None,
    }


def _failsafe_data(profile: DeviceProfile) -> dict[str, Any]:
    data = profile.failsafe.model_dump()
    if profile.watchdog_spec is not None and profile.failsafe.type == "watchdog":
        data.update(profile.watchdog_spec.model_dump())
    return data


def routine_summary(routine: Routine) -> dict[str, Any]:
    return {
        "id": routine.id,
        "title": routine.title,
        "summary": routine.summary,
        "duration_s": routine.duration_s,
        "areas": routine.areas,
        "tools": routine.tools,
        "requires": routine.requires.model_dump(),
        "step_count": len(routine.plan()),
    }


def _failsafe(profile: DeviceProfile) -> str:
    failsafe = profile.failsafe
    if failsafe.type == "watchdog":
        return f"watchdog {profile.watchdog.timeout_s:g} s"
    if failsafe.type == "device-timer":
        minutes = "/".join(f"{t // 60}" for t in failsafe.timer_s)
        return f"device timer {minutes} min" + (" (settable)" if failsafe.settable else "")
    return "none"


@devices_app.command("list", cls=PlainHelpCommand)
def devices_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List the device models in the catalog."""
    from massager_ctl.ui.tables import make_table

    profiles = sorted(use(ctx).catalog.devices().values(), key=lambda p: p.id)
    if as_json:
        typer.echo(json.dumps([device_summary(p) for p in profiles], indent=2))
        return
    table = make_table(
        "model",
        "name",
        "kind",
        "link",
        "heads",
        "intensity",
        "heat",
        "fail-safe",
        whole={"model": [p.id for p in profiles]},
    )
    for p in profiles:
        heads = f"{len(p.heads)} {p.heads[0].change}: " + ", ".join(h.id for h in p.heads)
        heat = f"{len(p.heat.levels) - 1} levels, auto-off after {clock(p.heat.max_on_s)}" if p.heat else "-"
        link = f"{p.transport} ({p.protocol.family})"
        kind = p.kind if p.kind == "reference" else f"product, {p.confidence} confidence"
        table.add_row(p.id, p.name, kind, link, heads, f"0–{p.intensity.max_level}", heat, _failsafe(p))
    print_table(table)


@routines_app.command("list", cls=PlainHelpCommand)
def routines_list(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None,
        "--model",
        metavar="MODEL",
        help="Only routines that pass pre-flight on this model.",
        autocompletion=complete_models,
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the routines in the library (built-in and your own)."""
    from massager_ctl.ui.tables import make_table

    state = use(ctx)
    routines = sorted(state.catalog.routines().values(), key=lambda r: r.id)
    if model is not None:
        from massager_ctl.orchestrator.plan import resolve

        profile, caps = state.catalog.device(model), state.settings.caps
        routines = [r for r in routines if not resolve(r, profile, caps).problems]
    if as_json:
        typer.echo(json.dumps([routine_summary(r) for r in routines], indent=2))
        return
    table = make_table("id", "title", "time", "areas", "tools", whole={"id": [r.id for r in routines]})
    for r in routines:
        table.add_row(r.id, r.title, clock(r.duration_s), ", ".join(r.areas), ", ".join(r.tools))
    print_table(table)


@routines_app.command("show", cls=PlainHelpCommand)
def routines_show(
    ctx: typer.Context,
    routine_ref: str = typer.Argument(
        ..., metavar="ROUTINE", help="A library routine id or a YAML file.", autocompletion=complete_routines
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a routine's steps, with repeats expanded."""
    routine = use(ctx).catalog.routine(routine_ref)
    plan = routine.plan()
    if as_json:
        payload = {
            **routine_summary(routine),
            "safety": routine.safety,
            "oils": routine.oils,
            "steps": [step.model_dump(mode="json") for step in plan],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    from rich.console import Console

    from massager_ctl.ui.tables import make_table

    console = Console()
    console.print(f"[bold]{routine.title}[/bold] ({routine.id}) — {clock(routine.duration_s)}")
    console.print(routine.summary)
    table = make_table("#", "start", "time", "step", "device", "prompt")
    for step in plan:
        device = ""
        if step.device:
            device = ", ".join(f"{k}={v}" for k, v in step.device.model_dump(exclude_none=True).items())
        prompt = step.prompt.text if step.prompt else ""
        title = f"{step.title}{' (confirm)' if step.confirm else ''}"
        table.add_row(
            str(step.index + 1),
            clock(step.planned_start_s),
            clock(step.duration_s),
            title,
            device,
            prompt,
        )
    console.print(table)
    for note in routine.safety:
        console.print(f"[yellow]•[/yellow] {note}")


@routines_app.command(
    "validate",
    cls=PlainHelpCommand,
    short_help="Check routine files; each problem as FILE:LINE: field: message.",
)
def routines_validate(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Routine YAML files."),
) -> None:
    """Check routine files; every problem is printed as FILE:LINE: field: message."""
    from massager_ctl.catalog import load_routine

    failed = False
    for path in files:
        try:
            routine = load_routine(path)
        except CatalogError as e:
            failed = True
            for problem in e.problems:
                typer.echo(str(problem), err=True)
            continue
        typer.echo(f"{path}: ok ({routine.id}, {len(routine.plan())} steps, {clock(routine.duration_s)})")
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


@routines_app.command("schema", cls=PlainHelpCommand, short_help="Print the JSON Schema of routine files.")
def routines_schema() -> None:
    """Print the JSON Schema of routine files (for editors' YAML support)."""
    typer.echo(json.dumps(routine_json_schema(), indent=2))


def routine_json_schema() -> dict[str, Any]:
    from massager_ctl.models import Routine

    schema = Routine.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "massager-ctl routine"
    return schema
