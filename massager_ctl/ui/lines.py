"""Plain log lines for a session: one line per thing worth telling, for logs and non-TTY runs."""

from __future__ import annotations

from typing import TextIO

from massager_ctl.drivers.manual import is_manual
from massager_ctl.drivers.nodevice import NO_DEVICE
from massager_ctl.events import (
    BaseEvent,
    Confirmed,
    DeviceStateEvent,
    EventsDropped,
    IntensityNudged,
    Notice,
    Paused,
    Reconnected,
    Resumed,
    SessionFinished,
    SessionStarted,
    StepExtended,
    StepFinished,
    StepStarted,
    Subscription,
    Suspended,
    WaitingForConfirm,
)
from massager_ctl.orchestrator.controls import STOP_TEXT
from massager_ctl.ui.timefmt import clock

#: How an instruction for an unconnected massager starts.
TOLD = "On the massager: "


def instruction(event: StepStarted, *, level: int | None, heat: str | None) -> str | None:
    """What a person running an unconnected massager (``manual://``) sets at the start of a step.

    Args:
        event: the step.
        level: the intensity the massager is at now (as last told).
        heat: the heat it is at now (as last told).
    """
    told: list[str] = []
    if event.intensity is not None and event.intensity != level:
        told.append("switch the motor off" if event.intensity == 0 else f"set the speed to {event.intensity}")
    if event.heat is not None and event.heat != (heat or "off"):
        told.append("switch the heat off" if event.heat == "off" else f"switch the heat to {event.heat}")
    return (TOLD + ", ".join(told) + ".") if told else None


def unconfirmed(event: DeviceStateEvent) -> str:
    """The device line while its state is stale: every reported value unknown, never the last report."""
    parts = ["head ?", "intensity ?", "heat ?" if event.heat is not None else None]
    return ", ".join(p for p in parts if p) + " (unconfirmed: no report since the device acked a change)"


class LineFormatter:
    """Turns events into log lines; remembers just enough to skip repeats."""

    def __init__(self) -> None:
        self._steps = 0
        self._device: tuple[object, ...] | None = None
        self._no_device = False
        self._manual = False
        self._told: tuple[int | None, str | None] = (None, None)

    def format(self, event: BaseEvent) -> str | None:
        """The line for ``event``, or ``None`` when it adds nothing (progress, repeated state)."""
        text = self._text(event)
        return f"[{clock(event.session_t)}] {text}" if text else None

    def _text(self, event: BaseEvent) -> str | None:
        match event:
            case SessionStarted():
                self._steps = event.steps
                self._no_device = event.model == NO_DEVICE.id
                self._manual = is_manual(event.device)
                where = "with no device" if self._no_device else f"on {event.device} [{event.model}]"
                return (
                    f"session started: {event.routine_title} ({event.routine_id}) {where},"
                    f" {event.steps} steps, {clock(event.planned_duration_s)}"
                )
            case StepStarted():
                settings = [
                    f"head {event.head}" if event.head else None,
                    f"intensity {event.intensity}" if event.intensity is not None else None,
                    f"heat {event.heat}" if event.heat else None,
                ]
                shown = ", ".join(s for s in settings if s)
                line = (
                    f"step {event.index + 1}/{self._steps or '?'} {event.title} ({clock(event.duration_s)})"
                )
                line += f" - {shown}" if shown else ""
                if self._manual:
                    told = instruction(event, level=self._told[0], heat=self._told[1])
                    line += f"\n    > {told}" if told else ""
                    self._told = (
                        event.intensity if event.intensity is not None else self._told[0],
                        event.heat or self._told[1],
                    )
                return line + (f"\n    > {event.prompt}" if event.prompt else "")
            case WaitingForConfirm():
                return f"waiting for you: {event.prompt}"
            case Confirmed():
                return f"confirmed ({event.by})"
            case DeviceStateEvent():  # no device, or a person told what to set: nothing reports a state
                return None if self._no_device or self._manual else self._device_line(event)
            case Paused():
                return f"paused ({clock(event.remaining_s)} left in this step)"
            case Resumed():
                return f"resumed ({clock(event.remaining_s)} left in this step)"
            case Suspended():
                return (
                    f"link lost: {event.reason}; reconnecting ({clock(event.remaining_s)} left in this step)"
                )
            case Reconnected():
                return f"reconnected after {event.attempts} attempt(s); resuming the step"
            case StepExtended():
                return f"step extended by {clock(event.by_s)} ({clock(event.remaining_s)} left)"
            case IntensityNudged():
                return f"intensity now level {event.level}"
            case Notice():
                return f"{event.level}: {event.message}"
            case StepFinished():
                return f"step {event.index + 1} {event.outcome}" if event.outcome != "completed" else None
            case SessionFinished():
                line = f"session {event.status}: {event.reason} (active {clock(event.active_s)})"
                if event.stop != "asked_of_person":
                    return line
                return line + f"\n    > {STOP_TEXT[event.stop]}.\n    > Switch the massager off now."
            case EventsDropped():
                return f"({event.count} events not shown: the display fell behind)"
        return None

    def _device_line(self, event: DeviceStateEvent) -> str | None:
        key = (event.connected, event.stale, event.head, event.intensity, event.heat, tuple(event.flags))
        if key == self._device:
            return None
        self._device = key
        if not event.connected:
            return "device: disconnected"
        if event.stale:
            return f"device: {unconfirmed(event)}"
        parts = [
            f"head {event.head or '-'}",
            f"intensity {event.intensity}",
            f"heat {event.heat}" if event.heat is not None else None,
            f"battery {event.battery}%" if event.battery is not None else None,
            ", ".join(event.flags) or None,
        ]
        return "device: " + ", ".join(p for p in parts if p)


async def print_lines(subscription: Subscription, stream: TextIO, *, errors: TextIO | None = None) -> None:
    """Write a line per event until the subscription ends; how a failed session ended goes to ``errors``."""
    formatter = LineFormatter()
    async for event in subscription:
        line = formatter.format(event)
        if not line:
            continue
        failed = isinstance(event, SessionFinished) and event.status in ("failed", "aborted")
        out = errors if failed and errors is not None else stream
        out.write(line + "\n")
        out.flush()
