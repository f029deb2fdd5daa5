"""The rich live view of a running session.

Routine and step titles, progress bars for the step and the session, the
device's confirmed head, intensity, heat and battery, and the prompt in large,
plain words. Times come from :meth:`Session.snapshot` at each refresh; the
device state, prompt and recent log lines come from the session's events.
"""

from __future__ import annotations

import collections

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from massager_ctl.events import (
    BaseEvent,
    DeviceStateEvent,
    SessionFinished,
    StepStarted,
    Subscription,
    WaitingForConfirm,
)
from massager_ctl.orchestrator import Session
from massager_ctl.ui.keys import HELP
from massager_ctl.ui.lines import LineFormatter, unconfirmed
from massager_ctl.ui.timefmt import clock

_STATE_LABELS = {
    "preparing": "connecting…",
    "running": "running",
    "paused": "PAUSED - space to resume",
    "waiting_for_confirm": "WAITING FOR YOU - press Enter when ready",
    "suspended": "LINK LOST - reconnecting…",
}


class LiveView:
    """What the live display shows; fed by events, drawn by :meth:`render`."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.device: DeviceStateEvent | None = None
        self.prompt: str | None = None
        self.message: str | None = None
        self.log: collections.deque[str] = collections.deque(maxlen=4)
        self._formatter = LineFormatter()

    def update(self, event: BaseEvent) -> None:
        if isinstance(event, DeviceStateEvent):
            self.device = event
        elif isinstance(event, StepStarted | WaitingForConfirm):
            self.prompt = event.prompt
        elif isinstance(event, SessionFinished):
            self.message = None
        if not isinstance(event, DeviceStateEvent):
            line = self._formatter.format(event)
            if line:
                self.log.append(line.splitlines()[0])

    def render(self) -> RenderableType:
        snap = self.session.snapshot()
        profile = self.session.plan.profile
        state = snap.status or snap.state
        header = Text.assemble(
            (snap.routine_title, "bold"),
            "  ",
            (f"[{profile.name}]", "dim"),
            "  ",
            (_STATE_LABELS.get(state, state), "bold yellow"),
        )
        bars = Table.grid(padding=(0, 1))
        bars.add_column(width=9)
        bars.add_column(ratio=1)
        bars.add_column(justify="right", width=13)
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
        step_title = Text(f"Step {snap.index + 1}/{snap.steps}: {snap.step_title or '-'}", style="bold cyan")
        prompt = Text(self.prompt or "Relax - the device does the work.", style="bold bright_white")
        parts: list[RenderableType] = [
            header,
            step_title,
            bars,
            Panel(prompt, padding=(1, 2), border_style="cyan"),
            self._device_line(),
        ]
        if self.message:
            parts.append(Text(self.message, style="yellow"))
        parts.extend(Text(line, style="dim") for line in self.log)
        parts.append(Text(HELP, style="dim"))
        return Panel(Group(*parts), title="massager-ctl", border_style="blue")

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
    """Draw the view until the subscription ends."""
    with Live(get_renderable=view.render, console=console, refresh_per_second=4, transient=False):
        async for event in subscription:
            view.update(event)
