"""``run``'s session: the device, the journal, the live view or log lines, signals and the exit code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import sys
import textwrap
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from massager_ctl.cli import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_TERMINATED
from massager_ctl.cli.context import CliContext
from massager_ctl.drivers.base import STOP_SENT_UNCONFIRMED
from massager_ctl.drivers.manual import ManualConnector, is_manual
from massager_ctl.drivers.nodevice import NO_DEVICE_URL, NoDeviceConnector
from massager_ctl.errors import ConfigError
from massager_ctl.events import EventBus, write_json_lines
from massager_ctl.journal import Journal, session_kind
from massager_ctl.models import Routine
from massager_ctl.orchestrator import Plan, Session
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson, Person
from massager_ctl.transports.wirelog import open_wire_log
from massager_ctl.ui.keys import handle_key, key_reader
from massager_ctl.ui.lines import print_lines
from massager_ctl.ui.live import LiveView, show_live

if TYPE_CHECKING:
    from massager_ctl.mqtt import BrokerConfig
    from massager_ctl.voice.session import VoiceSettings
    from massager_ctl.web.access import Bind

log = logging.getLogger(__name__)

EXIT_OK = 0


def acknowledge_safety(routine: Routine, *, yes: bool, tty: bool) -> None:
    """Show the routine's safety notes and have the person acknowledge them, before anything moves.

    Enter acknowledges on a terminal; ``--yes`` acknowledges for them (the notes are still shown).

    Raises:
        ConfigError: there are notes, no ``--yes``, and no terminal to acknowledge them on (or it closed).
    """
    if not routine.safety:
        return
    if not tty and not yes:
        raise ConfigError(
            f"{routine.id} has safety notes to acknowledge and there is no terminal to do it on;"
            " read them with `massager-ctl routines show` and pass --yes"
        )
    width = min(shutil.get_terminal_size().columns, 100) - 1
    typer.echo(f"Before you start {routine.title}:")
    for note in routine.safety:
        typer.echo(textwrap.fill(note, width=width, initial_indent="  - ", subsequent_indent="    "))
    if yes:
        typer.echo("(acknowledged with --yes)")
        return
    typer.echo("Press Enter once you have read these (Ctrl-C to cancel).", nl=False)
    if not sys.stdin.readline():
        raise ConfigError("the safety notes were not acknowledged (the terminal closed)")


async def run_session(
    state: CliContext,
    plan: Plan,
    url: str | None,
    *,
    speed: float | None,
    yes: bool,
    events: Path | None,
    broker: BrokerConfig | None,
    tty: bool,
    speech: VoiceSettings | None = None,
    wire_log: Path | None = None,
    http: Bind | None = None,
) -> int:
    """Run ``plan`` on the device at ``url`` (``None``: no device) until it ends; the exit code.

    A session at a speed other than 1 is a rehearsal; the journal keeps it out of weekly minutes.

    Raises:
        ConfigError: ``wire_log`` cannot be written.
    """
    bus = EventBus()
    console = Console()
    tasks: list[asyncio.Task[None]] = []

    def follow(work: Coroutine[Any, Any, None], name: str) -> None:
        # a task at once: a coroutine left unstarted by a later failure would warn "never awaited"
        tasks.append(asyncio.create_task(work, name=name))

    received: list[int] = []
    with Journal(state.settings.journal_path) as journal, contextlib.ExitStack() as stack:
        async with contextlib.AsyncExitStack() as astack:
            frames = await astack.enter_async_context(open_wire_log(wire_log))
            connector: DeviceConnector | NoDeviceConnector | ManualConnector
            if url is None:
                connector = NoDeviceConnector(speed=speed or 1.0)
            elif is_manual(url):
                connector = ManualConnector(plan.profile, speed=speed or 1.0)
            else:
                connector = await astack.enter_async_context(
                    DeviceConnector(url, catalog=state.catalog, speed=speed, wire_log=frames)
                )
            device = url or NO_DEVICE_URL
            session = Session(
                plan,
                connect=connector.connect,
                device_url=device,
                bus=bus,
                person=_auto_person(connector) if yes else None,
                speed=connector.speed,
            )
            try:
                if broker is not None:  # first: an unreachable broker ends the run before anything starts
                    from massager_ctl.mqtt.remote import session_status  # MQTT is loaded only when asked for

                    await astack.enter_async_context(session_status(session, broker=broker))
                if http is not None:  # a port in use ends the run before anything starts
                    from massager_ctl.web.remote import SessionRemote
                    from massager_ctl.web.server import web_remote

                    remote = web_remote(SessionRemote(session), http, announce=_to_stderr)
                    await astack.enter_async_context(remote)
                if speech is not None:  # before the other subscribers: its task is woken first
                    from massager_ctl.voice.session import spoken_cues

                    await astack.enter_async_context(spoken_cues(session, speech))
                kind = session_kind(device, speed=connector.speed)
                journal_events = bus.subscribe(maxsize=4096, name="journal")
                follow(journal.follow(journal_events, kind=kind), "the session journal")
                if events is not None:
                    stream = stack.enter_context(events.open("w", encoding="utf-8"))
                    follow(
                        write_json_lines(bus.subscribe(maxsize=4096, name="events-file"), stream),
                        f"the event file {events}",
                    )
                if tty:
                    view = LiveView(session)
                    follow(show_live(view, bus.subscribe(maxsize=512, name="live"), console), "the live view")

                    def on_key(key: str) -> None:
                        head = session.snapshot().head_to_fit
                        if key in ("\r", "\n") and head is not None:
                            # The person says the head is on: on a simulator, put it on, so a device
                            # that detects its head does not ask for the same one again.
                            connector.fit_head(head)
                        message = handle_key(session, key)
                        if message:
                            view.message = message

                    stack.enter_context(key_reader(sys.stdin.fileno(), on_key))
                else:
                    lines = bus.subscribe(maxsize=4096, name="log")
                    follow(print_lines(lines, sys.stdout, errors=sys.stderr), "the log lines")
                await _run_session(session, received)
            finally:
                bus.close()
                await _finish(tasks)
    return _exit_code(session, received, plan)


async def _run_session(session: Session, received: list[int]) -> None:
    """Run the session; SIGINT/SIGTERM cancel it (it makes the device safe) and are noted in ``received``."""
    loop = asyncio.get_running_loop()
    run_task = asyncio.create_task(session.run(), name=f"session-{session.id}")

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


async def _finish(tasks: list[asyncio.Task[None]]) -> None:
    if tasks:
        await asyncio.wait(tasks, timeout=5.0)
    for task in tasks:
        if not task.done():
            task.cancel()
        elif not task.cancelled() and task.exception() is not None:
            # the session ran regardless; say so rather than lose the journal or log silently
            log.error("%s failed", task.get_name(), exc_info=task.exception())


def _exit_code(session: Session, received: list[int], plan: Plan) -> int:
    final = session.result
    if final is not None and final.stop == "sent_unconfirmed":
        typer.echo(
            f"Note: {STOP_SENT_UNCONFIRMED}. {plan.profile.name} reports nothing back, so the stop was"
            " sent several times and cannot be confirmed; check that it has stopped.",
            err=True,
        )
    elif final is not None and not final.device_safe and final.stop != "asked_of_person":
        # Whatever else happened, the person must know the device may still be running.
        spec = plan.profile.watchdog_spec
        stops = (
            f"Its watchdog should stop it within {spec.timeout_s:g} s"
            if spec is not None
            else "It has no watchdog to stop it"
        )
        typer.echo(
            f"WARNING: the device did not confirm motor and heat off. {stops}; check it and unplug it if it"
            " still runs.",
            err=True,
        )
        return EXIT_FAILURE
    if received:
        return EXIT_TERMINATED if received[0] == signal.SIGTERM else EXIT_INTERRUPTED
    if final is not None and final.status in ("completed", "stopped"):
        return EXIT_OK
    return EXIT_FAILURE


def _to_stderr(text: str) -> None:
    typer.echo(text, err=True)


def _auto_person(connector: DeviceConnector | NoDeviceConnector | ManualConnector) -> Person:
    """The person for ``--yes``: a device's own (on a simulator, one that fits heads), else ready at once."""
    return connector.auto_person() if isinstance(connector, DeviceConnector) else AutoPerson()
