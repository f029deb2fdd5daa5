"""Session commands: ``run``, ``simulate``, ``history`` and ``routines check``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from massager_ctl.cli import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, app, routines_app
from massager_ctl.cli.context import catalog, settings
from massager_ctl.errors import ConfigError
from massager_ctl.events import EventBus, write_json_lines
from massager_ctl.journal import Journal
from massager_ctl.models import DeviceProfile
from massager_ctl.orchestrator import Plan, Session, preflight, resolve
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.dryrun import simulate
from massager_ctl.ui.keys import handle_key, key_reader
from massager_ctl.ui.lines import clock, print_lines
from massager_ctl.ui.live import LiveView, show_live
from massager_ctl.urls import parse_device_url
from massager_ctl.voice.limits import DEFAULT_RATE

if TYPE_CHECKING:
    from massager_ctl.mqtt import BrokerConfig
    from massager_ctl.voice.session import VoiceSettings

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_TERMINATED = 143
JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
ROUTINE_ARGUMENT = typer.Argument(..., metavar="ROUTINE", help="A library routine id or a YAML file.")


def _model_for(model: str | None, device: str | None) -> DeviceProfile:
    if (model is None) == (device is None):
        raise ConfigError("give exactly one of --model MODEL or --device URL")
    if device is not None:
        model = parse_device_url(device).model
        if model is None:
            raise ConfigError(f"{device} does not name a model; add ?model=MODEL or use --model")
    assert model is not None
    return catalog().device(model)


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The resolved plan as JSON-ready data."""
    return {
        "routine": plan.routine.id,
        "model": plan.profile.id,
        "duration_s": plan.duration_s,
        "max_level": plan.max_level,
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


@routines_app.command("check")
def routines_check(
    routine_ref: str = ROUTINE_ARGUMENT,
    model: str | None = typer.Option(None, "--model", help="Check against this catalog model."),
    device: str | None = typer.Option(None, "--device", help="Check against the model of this device URL."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Pre-flight a routine against a model and your caps: every problem, or the plan (exit 2 / 0)."""
    profile = _model_for(model, device)
    plan = resolve(catalog().routine(routine_ref), profile, settings().caps)
    if as_json:
        typer.echo(
            json.dumps(
                {"ok": not plan.problems, "problems": plan.problems, "plan": plan_summary(plan)}, indent=2
            )
        )
    elif plan.problems:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(f"{plan.routine.id} cannot run on {profile.id}:", markup=False)
        for problem in plan.problems:
            err.print(f"  - {problem}", markup=False)
    else:
        _print_plan(plan)
    if plan.problems:
        raise typer.Exit(EXIT_BAD_INPUT)


def _print_plan(plan: Plan) -> None:
    console = Console()
    console.print(
        f"[bold]{plan.routine.title}[/bold] on {plan.profile.name}: {clock(plan.duration_s)},"
        f" intensity up to level {plan.max_level}, heat {clock(plan.heat_budget_s)} in total"
    )
    table = Table("#", "start", "time", "step", "head", "level", "heat", "prompt")
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


@app.command("simulate")
def simulate_command(
    routine_ref: str = ROUTINE_ARGUMENT,
    model: str = typer.Option(..., "--model", help="The catalog model to simulate."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Dry-run a routine on a model's simulator in virtual time and print the timeline."""
    plan = preflight(catalog().routine(routine_ref), catalog().device(model), settings().caps)
    timeline = simulate(plan, catalog=catalog())
    if as_json:
        typer.echo(json.dumps(timeline.as_dict(), indent=2))
    else:
        console = Console()
        table = Table("#", "start", "end", "step", "head", "level", "heat", "prompt")
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
        for notice in timeline.notices:
            console.print(f"[yellow]{notice}[/yellow]")
        console.print(f"[bold]total {clock(timeline.total_s)}[/bold] ({timeline.status}: {timeline.reason})")
    if timeline.status != "completed":
        raise typer.Exit(EXIT_FAILURE)


@app.command("history")
def history_command(as_json: bool = JSON_OPTION) -> None:
    """Past sessions from the journal, and minutes per week."""
    with Journal(settings().journal_path) as journal:
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
    console = Console()
    if not sessions:
        console.print("no sessions yet")
        return
    table = Table("started", "routine", "device", "status", "minutes")
    for s in sessions:
        table.add_row(
            s.started_at[:16].replace("T", " "), s.routine_id, s.device, s.status, f"{s.elapsed_s / 60:.1f}"
        )
    console.print(table)
    weekly = Table("week", "sessions", "minutes")
    for w in weeks:
        weekly.add_row(w.week, str(w.sessions), f"{w.minutes:.1f}")
    console.print(weekly)


@app.command("run")
def run_command(
    routine_ref: str = ROUTINE_ARGUMENT,
    device: str | None = typer.Option(None, "--device", help="Device URL (default: from your settings)."),
    speed: float | None = typer.Option(None, "--speed", help="Compress time N-fold (sim:// devices only)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Confirm every prompt automatically."),
    events: Path | None = typer.Option(None, "--events", help="Write every event to FILE as JSON lines."),
    mqtt: str | None = typer.Option(
        None,
        "--mqtt",
        help="Publish the session to this MQTT broker URL (mqtt://user@host:port; give the password in "
        "MASSAGER_MQTT_PASSWORD, not in the URL, where ps would show it).",
    ),
    voice: bool | None = typer.Option(
        None, "--voice/--no-voice", help="Speak the cues (default: on where there is audio output)."
    ),
    voice_rate: int = typer.Option(DEFAULT_RATE, "--voice-rate", help="Speaking rate, words per minute."),
    audio_out: Path | None = typer.Option(
        None, "--audio-out", help="Write each spoken cue as a WAV file plus cues.jsonl to DIR; play nothing."
    ),
) -> None:
    """Run a routine on a device, with a live view on a terminal or log lines otherwise."""
    url = device or settings().default_device
    parsed = parse_device_url(url)
    if speed is not None and parsed.scheme != "sim":
        raise ConfigError(f"--speed compresses time on a simulator (sim://) only; {url} is a real device")
    if speed is not None and not speed > 0:
        raise ConfigError("--speed must be more than 0")
    if parsed.model is None:
        raise ConfigError(f"{url} does not name a model; add ?model=MODEL")
    plan = preflight(catalog().routine(routine_ref), catalog().device(parsed.model), settings().caps)
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    if not tty and not yes and _needs_person(plan):
        raise ConfigError(
            f"{plan.routine.id} waits for you at some steps and there is no terminal to confirm on;"
            " pass --yes to confirm automatically"
        )
    broker = _broker(mqtt) if mqtt is not None else None  # a bad URL is refused before anything moves
    # "voice off" is for a person at a terminal; a piped or service run keeps its stderr for errors
    from massager_ctl.voice.session import voice_settings  # loaded only by `run`

    notice = Console(stderr=True, highlight=False).print if tty else log.info
    speech = voice_settings(voice=voice, rate=voice_rate, audio_out=audio_out, notice=notice)
    code = asyncio.run(
        _run(plan, url, speed=speed, yes=yes, events=events, broker=broker, tty=tty, speech=speech)
    )
    raise typer.Exit(code)


def _needs_person(plan: Plan) -> bool:
    return any(s.confirm or (s.head is not None and s.head.change == "manual") for s in plan.steps)


async def _run(
    plan: Plan,
    url: str,
    *,
    speed: float | None,
    yes: bool,
    events: Path | None,
    broker: BrokerConfig | None,
    tty: bool,
    speech: VoiceSettings | None = None,
) -> int:
    loop = asyncio.get_running_loop()
    bus = EventBus()
    console = Console()
    followers: list[Awaitable[None]] = []
    follower_names: list[str] = []
    with Journal(settings().journal_path) as journal, contextlib.ExitStack() as stack:
        async with (
            DeviceConnector(url, catalog=catalog(), speed=speed) as connector,
            contextlib.AsyncExitStack() as astack,
        ):
            session = Session(
                plan,
                connect=connector.connect,
                device_url=url,
                bus=bus,
                auto_confirm=yes,
                speed=connector.speed,
                fit_head=connector.fit_head,
            )
            if speech is not None:  # first: its subscriber is woken before the others
                from massager_ctl.voice.session import spoken_cues

                await astack.enter_async_context(spoken_cues(session, speech))
            followers.append(journal.follow(bus.subscribe(maxsize=4096, name="journal")))
            follower_names.append("the session journal")
            if events is not None:
                stream = stack.enter_context(events.open("w", encoding="utf-8"))
                followers.append(write_json_lines(bus.subscribe(maxsize=4096, name="events-file"), stream))
                follower_names.append(f"the event file {events}")
            if tty:
                view = LiveView(session)
                followers.append(show_live(view, bus.subscribe(maxsize=512, name="live"), console))
                follower_names.append("the live view")

                def on_key(key: str) -> None:
                    message = handle_key(session, key)
                    if message:
                        view.message = message

                stack.enter_context(key_reader(sys.stdin.fileno(), on_key))
            else:
                followers.append(print_lines(bus.subscribe(maxsize=4096, name="log"), sys.stdout))
                follower_names.append("the log lines")
            if broker is not None:
                from massager_ctl.mqtt.remote import session_status

                await astack.enter_async_context(session_status(session, broker=broker))
            tasks = [asyncio.ensure_future(f) for f in followers]
            for task, name in zip(tasks, follower_names, strict=True):
                task.set_name(name)
            run_task = asyncio.create_task(session.run(), name=f"session-{session.id}")
            received: list[int] = []

            def on_signal(signum: int) -> None:
                received.append(signum)
                run_task.cancel(f"interrupted by {signal.Signals(signum).name}")

            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, on_signal, signum)
            try:
                await run_task
            except asyncio.CancelledError:
                # the session made the device safe and recorded how it ended; a cancel of _run itself goes on
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            finally:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(signum)
                bus.close()
                await asyncio.wait(tasks, timeout=5.0)
                for task in tasks:
                    if not task.done():
                        task.cancel()
                    elif not task.cancelled() and task.exception() is not None:
                        # the session ran regardless; say so rather than lose the journal or log silently
                        log.error("%s failed", task.get_name(), exc_info=task.exception())
    return _exit_code(session, received, plan.profile.watchdog.timeout_s)


def _exit_code(session: Session, received: list[int], watchdog_s: float) -> int:
    final = session.result
    if final is not None and not final.device_safe:
        # Whatever else happened, the person must know the device may still be running.
        Console(stderr=True, highlight=False).print(
            "[bold red]WARNING: the device did not confirm motor and heat off.[/bold red]"
            f" Its watchdog should stop it within {watchdog_s:g} s; check it and unplug it if it still runs."
        )
        return EXIT_FAILURE
    if received:
        return EXIT_TERMINATED if received[0] == signal.SIGTERM else EXIT_INTERRUPTED
    if final is not None and final.status in ("completed", "stopped"):
        return EXIT_OK
    return EXIT_FAILURE


def _broker(url: str) -> BrokerConfig:
    from massager_ctl.mqtt import parse_broker_url

    return parse_broker_url(url)
