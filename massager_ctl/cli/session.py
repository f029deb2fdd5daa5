"""Session commands: ``run``, ``simulate``, ``history`` and ``routines check``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from massager_ctl.cli import EXIT_BAD_INPUT, EXIT_FAILURE, PlainHelpCommand, app, routines_app
from massager_ctl.cli.context import (
    WIRE_LOG_OPTION,
    CliContext,
    complete_models,
    complete_routines,
    device_url,
    use,
)
from massager_ctl.cli.problems import merge_problems
from massager_ctl.errors import ConfigError
from massager_ctl.ui.timefmt import clock
from massager_ctl.voice.limits import DEFAULT_RATE

if TYPE_CHECKING:
    from massager_ctl.models import DeviceProfile
    from massager_ctl.orchestrator import Plan
    from massager_ctl.orchestrator.dryrun import Timeline

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
ROUTINE_ARGUMENT = typer.Argument(
    ..., metavar="ROUTINE", help="A library routine id or a YAML file.", autocompletion=complete_routines
)
MODEL_OPTION = typer.Option(
    None, "--model", metavar="MODEL", help="A catalog model.", autocompletion=complete_models
)
DEVICE_OPTION = typer.Option(
    None,
    "--device",
    metavar="URL",
    help="The model of this device URL; manual://MODEL or manual://KIND?speeds=N[&heat=H] (KIND: massage-gun,"
    " cushion) plans for a massager set by hand.",
)


def _model_for(state: CliContext, model: str | None, device: str | None) -> DeviceProfile:
    if (model is None) == (device is None):
        raise ConfigError("give exactly one of --model MODEL or --device URL")
    if device is not None:
        from massager_ctl.drivers.manual import is_manual, manual_profile

        if is_manual(device):
            return manual_profile(device, state.catalog)
        model = device_url(device).model
        if model is None:
            raise ConfigError(f"{device} does not name a model; add ?model=MODEL or use --model")
    assert model is not None
    return state.catalog.device(model)


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The resolved plan as JSON-ready data."""
    return {
        "routine": plan.routine.id,
        "model": plan.profile.id,
        "duration_s": plan.duration_s,
        "max_level": plan.max_level,
        "highest_level": max((s.level for s in plan.steps if s.level is not None), default=0),
        "heat_budget_s": plan.heat_budget_s,
        "steps": [
            {
                "index": s.index,
                "title": s.title,
                "start_s": s.planned_start_s,
                "duration_s": s.duration_s,
                "head": s.head.id if s.head else None,
                "head_change": s.head.change if s.head else None,
                "intensity": s.level,
                "heat": plan.heat_name(s.heat),
                "mode": s.mode,
                "direction": s.direction,
                "confirm": s.confirm,
                "prompt": s.prompt,
            }
            for s in plan.steps
        ],
    }


@routines_app.command(
    "check", cls=PlainHelpCommand, short_help="Pre-flight a routine against a model and your caps."
)
def routines_check(
    ctx: typer.Context,
    routine_ref: str = ROUTINE_ARGUMENT,
    model: str | None = MODEL_OPTION,
    device: str | None = DEVICE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Pre-flight a routine against a model and your caps: every problem, or the plan (exit 2 / 0)."""
    from massager_ctl.orchestrator.plan import resolve

    state = use(ctx)
    profile = _model_for(state, model, device)
    plan = resolve(state.catalog.routine(routine_ref), profile, state.settings.caps)
    problems = merge_problems(plan.problems)
    if as_json:
        typer.echo(
            json.dumps({"ok": not problems, "problems": problems, "plan": plan_summary(plan)}, indent=2)
        )
    elif problems:
        typer.echo(f"{plan.routine.id} cannot run on {profile.id}:", err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
    else:
        _print_plan(plan)
    if problems:
        raise typer.Exit(EXIT_BAD_INPUT)


def _print_plan(plan: Plan) -> None:
    from rich.console import Console

    from massager_ctl.ui.tables import make_table

    console = Console()
    levels = [s.level for s in plan.steps if s.level is not None]
    top = plan.profile.intensity.max_level
    intensity = f"intensity up to level {max(levels)} of {top}" if levels else "no intensity set"
    console.print(
        f"[bold]{plan.routine.title}[/bold] on {plan.profile.name}: {clock(plan.duration_s)},"
        f" {intensity} (your cap: level {plan.max_level}), heat {clock(plan.heat_budget_s)} in total"
    )
    table = make_table("#", "start", "time", "step", "head", "level", "heat", "prompt")
    for s in plan.steps:
        head = (
            f"{s.head.id} (fit by hand)"
            if s.head and s.head.change == "manual"
            else (s.head.id if s.head else "")
        )
        table.add_row(
            str(s.index + 1),
            clock(s.planned_start_s),
            clock(s.duration_s),
            s.title + (" (confirm)" if s.confirm else ""),
            head,
            "" if s.level is None else str(s.level),
            plan.heat_name(s.heat) or "",
            s.prompt or "",
        )
    console.print(table)


@app.command(
    "simulate", cls=PlainHelpCommand, short_help="Dry-run a routine in virtual time; print the timeline."
)
def simulate_command(
    ctx: typer.Context,
    routine_ref: str = ROUTINE_ARGUMENT,
    model: str | None = MODEL_OPTION,
    device: str | None = DEVICE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Dry-run a routine on a model's simulator in virtual time and print the timeline."""
    from massager_ctl.orchestrator import preflight
    from massager_ctl.orchestrator.dryrun import simulate

    state = use(ctx)
    profile = _model_for(state, model, device)
    plan = preflight(state.catalog.routine(routine_ref), profile, state.settings.caps)
    timeline = simulate(plan, catalog=state.catalog)
    if as_json:
        typer.echo(json.dumps(timeline.as_dict(), indent=2))
    else:
        _print_timeline(timeline)
    if timeline.status != "completed":
        raise typer.Exit(EXIT_FAILURE)


def _print_timeline(timeline: Timeline) -> None:
    from rich.console import Console

    from massager_ctl.ui.tables import make_table

    console = Console()
    table = make_table("#", "start", "end", "step", "head", "level", "heat", "prompt")
    for step in timeline.steps:
        table.add_row(
            str(step.index + 1),
            clock(step.start_s),
            clock(step.end_s) if step.end_s is not None else "-",
            step.title,
            step.head or "",
            "" if step.intensity is None else str(step.intensity),
            step.heat or "",
            step.prompt or "",
        )
    console.print(table)
    infos: dict[str, list[str]] = {}
    for notice in timeline.notices:
        if notice.level == "info":  # expected behaviour: one line per kind, with every time it happened
            infos.setdefault(notice.message, []).append(clock(notice.at_s))
        else:
            console.print(
                f"[yellow]{clock(notice.at_s)} {notice.level}: {notice.message}[/yellow]", markup=True
            )
    for message, times in infos.items():
        console.print(f"[dim]note: {message} (at {', '.join(times)})[/dim]")
    console.print(f"[bold]total {clock(timeline.total_s)}[/bold] ({timeline.status}: {timeline.reason})")


@app.command("history", cls=PlainHelpCommand)
def history_command(
    ctx: typer.Context,
    as_json: bool = JSON_OPTION,
    chart: Path | None = typer.Option(
        None, "--chart", metavar="FILE", help="Draw minutes per week (last 12 weeks) to FILE (.svg or .png)."
    ),
) -> None:
    """Past sessions from the journal, and minutes per week.

    Each session shows its kind: real, manual, none (prompts only), simulated or rehearsal.
    Minutes per week count real massage only: simulated and rehearsed sessions are left out.
    """
    if chart is not None:
        from massager_ctl.cli.pictures_cmd import write_history_chart

        write_history_chart(chart, journal_path=use(ctx).settings.journal_path)
        return
    from massager_ctl.journal import Journal

    with Journal(use(ctx).settings.journal_path) as journal:
        sessions, weeks = journal.sessions(), journal.weekly()
    if as_json:
        payload = {
            "sessions": [
                {
                    "id": s.id,
                    "routine": s.routine_id,
                    "title": s.routine_title,
                    "device": s.device,
                    "model": s.model,
                    "kind": s.kind,
                    "started_at": s.started_at,
                    "ended_at": s.ended_at,
                    "status": s.status,
                    "reason": s.reason,
                    "minutes": round(s.elapsed_s / 60, 1),
                    "steps_done": s.steps_done,
                }
                for s in sessions
            ],
            "weeks": [{"week": w.week, "sessions": w.sessions, "minutes": w.minutes} for w in weeks],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    if not sessions:
        typer.echo("no sessions yet")
        return
    from rich.console import Console

    from massager_ctl.ui.tables import make_table

    console = Console()
    table = make_table(
        "started",
        "routine",
        "device",
        "kind",
        "status",
        "time",
        whole={"routine": [s.routine_id for s in sessions]},
    )
    for s in sessions:
        table.add_row(
            s.started_at[:16].replace("T", " "), s.routine_id, s.device, s.kind, s.status, clock(s.elapsed_s)
        )
    console.print(table)
    weekly = make_table("week", "sessions", "time")
    for w in weeks:
        weekly.add_row(w.week, str(w.sessions), clock(w.minutes * 60))
    console.print(weekly)
    console.print("[dim]weeks count real massage: simulated and rehearsed sessions are not counted[/dim]")


@app.command(
    "run", cls=PlainHelpCommand, short_help="Run a routine on a device, with a live view or log lines."
)
def run_command(
    ctx: typer.Context,
    routine_ref: str = ROUTINE_ARGUMENT,
    device: str | None = typer.Option(
        None,
        "--device",
        metavar="URL",
        help="Device URL (default: the default_device setting; none: prompts only, no device)."
        " manual://MODEL (a catalog model) or manual://KIND?speeds=N[&heat=H] (KIND: massage-gun, cushion):"
        " a massager with no radio, set by hand as the screen says.",
    ),
    speed: float | None = typer.Option(
        None,
        "--speed",
        metavar="N",
        help="Compress time N-fold to rehearse (sim://, manual:// or no device); kept out of weekly minutes.",
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Acknowledge the safety notes and confirm every prompt automatically."
    ),
    events: Path | None = typer.Option(
        None, "--events", metavar="FILE", help="Write every event to FILE as JSON lines."
    ),
    mqtt: str | None = typer.Option(
        None,
        "--mqtt",
        metavar="URL",
        help="Publish the session to this MQTT broker (mqtt://user@host:port). The password comes from"
        " MASSAGER_MQTT_PASSWORD or mqtt_password in config.toml, not the URL, where ps would show it.",
    ),
    http: str | None = typer.Option(
        None,
        "--http",
        metavar="[HOST:]PORT",
        help="Serve a phone remote (a web page) on HOST:PORT, default host 127.0.0.1. Any other host needs"
        " the pairing token the terminal prints as a URL and QR code.",
    ),
    voice: bool | None = typer.Option(
        None, "--voice/--no-voice", help="Speak the cues (default: on where there is audio output)."
    ),
    voice_rate: int = typer.Option(
        DEFAULT_RATE, "--voice-rate", metavar="WPM", help="Speaking rate, words per minute."
    ),
    audio_out: Path | None = typer.Option(
        None, "--audio-out", metavar="DIR", help="Write each spoken cue as a WAV file plus cues.jsonl to DIR."
    ),
    wire_log: Path | None = WIRE_LOG_OPTION,
) -> None:
    """Run a routine on a device (or, for a routine of prompts only, with none), with a live view
    on a terminal or log lines otherwise. The routine's safety notes come first, to acknowledge.

    Exit codes: 0 completed or stopped, 1 failed, 2 bad input, 130 Ctrl-C, 143 SIGTERM
    (after the device confirmed motor and heat off).
    """
    import asyncio
    import logging

    from rich.console import Console

    from massager_ctl.cli.running import acknowledge_safety, run_session
    from massager_ctl.drivers.manual import is_manual, manual_profile
    from massager_ctl.drivers.nodevice import NO_DEVICE, needs_device
    from massager_ctl.orchestrator import preflight
    from massager_ctl.voice.session import voice_settings
    from massager_ctl.web import web_bind

    state = use(ctx)
    routine = state.catalog.routine(routine_ref)
    url = device or state.settings.default_device or None
    if speed is not None and not speed > 0:
        raise ConfigError("--speed must be more than 0")
    if url is None:
        if needs_device(routine):
            raise ConfigError(
                f"{routine.id} drives a massager: pass --device URL (sim://MODEL to try it on a simulator)"
            )
        plan = preflight(routine, NO_DEVICE, state.settings.caps)
    elif is_manual(url):  # the person sets the massager by hand, as the screen says
        plan = preflight(routine, manual_profile(url, state.catalog), state.settings.caps)
    else:
        parsed = device_url(url)
        if speed is not None and parsed.scheme != "sim":
            raise ConfigError(
                f"--speed compresses time on a simulator (sim://), manual:// or with no device;"
                f" {url} is a real device"
            )
        if parsed.model is None:
            raise ConfigError(f"{url} does not name a model; add ?model=MODEL")
        plan = preflight(routine, state.catalog.device(parsed.model), state.settings.caps)
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    bind = web_bind(http) if http is not None else None  # refused before anything moves
    if not tty and not yes and bind is None and _needs_person(plan):
        raise ConfigError(
            f"{plan.routine.id} waits for you at some steps and there is no terminal to confirm on;"
            " pass --yes to confirm automatically, or --http PORT to confirm on a phone"
        )
    broker = state.broker(mqtt) if mqtt is not None else None  # refused before anything moves
    # "voice off" is for a person at a terminal; a piped or service run keeps its stderr for errors
    notice = Console(stderr=True, highlight=False).print if tty else logging.getLogger(__name__).info
    speech = voice_settings(voice=voice, rate=voice_rate, audio_out=audio_out, notice=notice)
    acknowledge_safety(plan.routine, yes=yes, tty=tty)  # last: nothing after it may refuse the run
    code = asyncio.run(
        run_session(
            state,
            plan,
            url,
            speed=speed,
            yes=yes,
            events=events,
            broker=broker,
            tty=tty,
            speech=speech,
            wire_log=wire_log,
            http=bind,
        )
    )
    raise typer.Exit(code)


def _needs_person(plan: Plan) -> bool:
    return any(s.confirm or (s.head is not None and s.head.change == "manual") for s in plan.steps)
