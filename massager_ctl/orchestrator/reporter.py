"""The session's events: stamped with the session clock and published on the bus, never awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from massager_ctl.drivers.base import DeviceState
from massager_ctl.events import BaseEvent, DeviceStateEvent, EventBus, Progress
from massager_ctl.orchestrator.clock import SessionClock
from massager_ctl.orchestrator.plan import Plan
from massager_ctl.orchestrator.timeline import Timeline

#: Reports progress, through the callable it is given, every so many loop seconds, until cancelled.
ProgressTicker = Callable[[Callable[[], None], float], Coroutine[Any, Any, None]]


async def tick_progress(report: Callable[[], None], every_s: float) -> None:
    """The default :data:`ProgressTicker`: ``report()`` every ``every_s`` loop seconds."""
    while True:
        await asyncio.sleep(every_s)
        report()


class Reporter:
    """Publishes one session's events.

    Args:
        session_id: stamped on every event.
        bus: where events go (``publish`` never blocks, so a slow reader cannot delay the session).
        clock: the session clock, for each event's session time.
        plan: names heat levels and counts steps.
        timeline: where the session stands, for progress.
    """

    def __init__(
        self, session_id: str, bus: EventBus, *, clock: SessionClock, plan: Plan, timeline: Timeline
    ) -> None:
        self._id = session_id
        self._bus = bus
        self._clock = clock
        self._plan = plan
        self._timeline = timeline

    def emit(self, cls: type[BaseEvent], **fields: Any) -> None:
        t = round(self._clock.now(), 6) if self._clock.started else 0.0
        self._bus.publish(cls(session_id=self._id, session_t=t, **fields))

    def progress(self) -> None:
        timeline = self._timeline
        elapsed = timeline.step_elapsed(self._clock.now())
        self.emit(
            Progress,
            state=timeline.state.value,
            index=timeline.index,
            steps=len(self._plan.steps),
            step_elapsed_s=round(elapsed, 3),
            step_duration_s=round(timeline.step_duration, 3),
            session_elapsed_s=round(timeline.done_s + elapsed, 3),
            session_duration_s=round(timeline.session_duration, 3),
        )

    def device(self, state: DeviceState) -> None:
        self.emit(
            DeviceStateEvent,
            connected=state.connected,
            motor=state.motor,
            head=state.head,
            intensity=state.intensity,
            heat=self._plan.heat_name(state.heat),
            battery=state.battery,
            temperature_c=state.temperature_c,
            flags=list(state.flags),
            stale=state.stale,
        )
