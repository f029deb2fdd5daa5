"""The rich live view of a running session.

Routine and step titles, progress bars for the step and the session, the key
help, the prompt in large, plain words, the device's confirmed head,
intensity, heat and battery, and at the end a summary. Times come from
:meth:`Session.snapshot` at each refresh; the device state, prompt and recent
log lines come from the session's events.
"""

from __future__ import annotations

import collections

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from massager_ctl.drivers.manual import is_manual
from massager_ctl.events import (
    BaseEvent,
    Confirmed,
    DeviceStateEvent,
    EventsDropped,
    Progress,
    SessionFinished,
    StepFinished,
    StepStarted,
    Subscription,
    WaitingForConfirm,
)
from massager_ctl.orchestrator import Session
from massager_ctl.orchestrator.controls import STOP_TEXT
from massager_ctl.ui.keys import HELP
from massager_ctl.ui.lines import TOLD, LineFormatter, unconfirmed
from massager_ctl.ui.timefmt import clock

_STOP_STYLE = {"confirmed": "green", "unconfirmed": "bold red", "sent_unconfirmed": "bold yellow"}

_STATE_LABELS = {
    "preparing": "connecting…",
    "running": "running",
    "paused": "PAUSED - space to resume",
    "waiting_for_confirm": "WAITING FOR YOU - press Enter when ready",
    "suspended": "LINK LOST - reconnecting…",
}


class LiveView:
    """What the live display shows; fed by events, drawn by :meth:`render`.

    The layout fits an 80×24 terminal: the state, step and session progress and the key help come
    first and always show; the prompt is the largest thing; the device line and recent log lines come
    last, so a small terminal cuts those first. Nothing outlives what it was about: a wait's prompt
    (fit a head, get on the roller) gives way to the step's own once confirmed, a key's message goes
    with the next thing that happens, and the end replaces the prompt with a summary.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.device: DeviceStateEvent | None = None
        self.prompt: str | None = None
        self.message: str | None = None
        self.log: collections.deque[str] = collections.deque(maxlen=3)
        self.finished: SessionFinished | None = None
        self.instruction: str | None = None
        """What to set on an unconnected massager (``manual://``) for the current step."""
        self._step_prompt: str | None = None
        self._started_steps = 0
        self._completed_steps = 0
        self._formatter = LineFormatter()

    def update(self, event: BaseEvent) -> None:
        if isinstance(event, DeviceStateEvent):
            self.device = event
            return
        if isinstance(event, Progress):
            return
        if not isinstance(event, EventsDropped):
            self.message = None  # a key's message lasts until the next thing happens
        if isinstance(event, StepStarted):
            self._started_steps += 1
            self.prompt = self._step_prompt = event.prompt
        elif isinstance(event, WaitingForConfirm):
            self.prompt = event.prompt
        elif isinstance(event, Confirmed):
            self.prompt = self._step_prompt
        elif isinstance(event, StepFinished) and event.outcome == "completed":
            self._completed_steps += 1
        elif isinstance(event, SessionFinished):
            self.finished = event
        line = self._formatter.format(event)
        if isinstance(event, StepStarted):
            told = [t.strip("> ") for t in (line or "").splitlines() if t.startswith(f"    > {TOLD}")]
            self.instruction = told[0] if told else None
        if line:
            self.log.append(line.splitlines()[0])

    def render(self) -> RenderableType:
        snap = self.session.snapshot()
        profile = self.session.plan.profile
        state = snap.status or snap.state
        header = Text.assemble(  # the state first: a narrow terminal cuts the names, not "WAITING FOR YOU"
            (_STATE_LABELS.get(state, state), "bold yellow"),
            "  ",
            (snap.routine_title, "bold"),
            "  ",
            (f"[{profile.name}]", "dim"),
            no_wrap=True,
            overflow="ellipsis",
        )
        bars = Table.grid(padding=(0, 1), expand=True)
        bars.add_column(width=7)
        bars.add_column(ratio=1)
        bars.add_column(justify="right", width=11)
        step_total = max(snap.step_elapsed_s + snap.step_remaining_s, 1e-9)
        session_total = max(snap.session_elapsed_s + snap.session_remaining_s, 1e-9)
        bars.add_row(
            "step",
            ProgressBar(total=step_total, completed=snap.step_elapsed_s),
            f"{clock(snap.step_remaining_s)} left",
        )
        bars.add_row(
            "session",
            ProgressBar(total=session_total, completed=snap.session_elapsed_s),
            f"{clock(snap.session_remaining_s)} left",
        )
        step_title = Text(
            f"Step {snap.index + 1}/{snap.steps}: {snap.step_title or '-'}",
            style="bold cyan",
            no_wrap=True,
            overflow="ellipsis",
        )
        parts: list[RenderableType] = [header, step_title, bars, Text(HELP, style="dim", no_wrap=True)]
        if self.message:
            parts.append(Text(self.message, style="yellow"))
        if self.instruction and self.finished is None:
            parts.append(Text(self.instruction, style="bold yellow"))
        parts.append(self._summary() if self.finished is not None else self._prompt_panel())
        if profile.transport != "none" and not self._manual:
            parts.append(self._device_line())
        parts.extend(Text(line, style="dim", overflow="ellipsis", no_wrap=True) for line in self.log)
        return Group(*parts)

    @property
    def _manual(self) -> bool:
        return is_manual(self.session.device_url)

    def _prompt_panel(self) -> Panel:
        if self.prompt:
            text = self.prompt
        elif self._started_steps:
            text = "Relax - the device does the work."
        else:
            text = "Getting ready…"
        return Panel(Text(text, style="bold bright_white"), padding=(1, 2), border_style="cyan")

    def _summary(self) -> Panel:
        assert self.finished is not None
        end = self.finished
        result = self.session.result
        style = "green" if end.status in ("completed", "stopped") else "red"
        lines = Text.assemble((f"Session {end.status}", f"bold {style}"), f": {end.reason}\n")
        steps = f"{self._completed_steps}/{len(self.session.plan.steps)}"
        lines.append(f"active {clock(end.active_s)} · steps done {steps}\n")
        stop = result.stop if result is not None else end.stop
        if stop == "asked_of_person":
            lines.append(STOP_TEXT[stop] + "\n")
            lines.append("Switch the massager off now.", style="bold yellow")
        else:
            lines.append(STOP_TEXT[stop], style=_STOP_STYLE.get(stop, ""))
        return Panel(lines, padding=(1, 2), border_style=style, title="the end")

    def _device_line(self) -> Text:
        event = self.device
        if event is None:
            return Text("device: -", style="dim")
        if not event.connected:
            return Text("device: disconnected", style="red")
        if event.stale:
            return Text("device: " + unconfirmed(event), style="yellow")
        top = self.session.plan.profile.intensity.max_level
        parts = [
            f"head {event.head or '-'}",
            f"intensity {event.intensity}/{top}",
            f"heat {event.heat}" if event.heat is not None else None,
            f"battery {event.battery}%" if event.battery is not None else None,
        ]
        text = Text("device: " + " · ".join(p for p in parts if p))
        if event.flags:
            text.append("  " + ", ".join(event.flags), style="yellow")
        return text


async def show_live(view: LiveView, subscription: Subscription, console: Console) -> None:
    """Draw the view until the subscription ends (a terminal too short for it loses the log lines first)."""
    with Live(
        get_renderable=view.render,
        console=console,
        refresh_per_second=4,
        transient=False,
        vertical_overflow="crop",
    ):
        async for event in subscription:
            view.update(event)
