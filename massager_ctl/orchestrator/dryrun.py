"""The dry run: the real engine against the model's simulator, in virtual time.

:func:`simulate` runs a :class:`Session` on ``sim://MODEL?link=virtual`` inside
a :class:`VirtualClockLoop`, confirming every prompt, and returns the timeline
the events describe: when each step started and ended, with its head,
intensity, heat and prompt, and the session's total time.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any

from massager_ctl.catalog import Catalog
from massager_ctl.drivers.manual import ManualConnector
from massager_ctl.events import BaseEvent, EventBus, Notice, SessionFinished, StepFinished, StepStarted
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.orchestrator.plan import Plan
from massager_ctl.orchestrator.session import Session
from massager_ctl.orchestrator.vclock import VirtualClockLoop


@dataclass(slots=True)
class TimelineStep:
    index: int
    title: str
    start_s: float
    end_s: float | None
    head: str | None
    intensity: int | None
    heat: str | None
    prompt: str | None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineNotice:
    """Something the session said along the way: ``level`` is info (expected) or warning."""

    at_s: float
    level: str
    message: str


@dataclass(slots=True)
class Timeline:
    routine_id: str
    model: str
    status: str
    reason: str
    total_s: float
    steps: list[TimelineStep] = field(default_factory=list)
    notices: list[TimelineNotice] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def simulate(plan: Plan, *, catalog: Catalog | None = None) -> Timeline:
    """Run ``plan`` on its model's simulator in virtual time and return the timeline.

    Must be called outside a running event loop.

    Raises:
        ConfigError: the model cannot be simulated.
    """
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(simulate_async(plan, catalog=catalog))


async def simulate_async(plan: Plan, *, catalog: Catalog | None = None) -> Timeline:
    """:func:`simulate` inside an already running (virtual-time) loop."""
    bus = EventBus()
    events = bus.subscribe(maxsize=1_000_000, name="dry-run")
    if plan.profile.set_by_person:  # manual://: no simulator, the person's instructions as they come
        manual = ManualConnector(plan.profile)
        url = f"manual://{plan.profile.id}"
        session = Session(plan, connect=manual.connect, device_url=url, bus=bus, person=AutoPerson())
        await session.run()
        bus.close()
        return timeline(plan, [event async for event in events])
    url = f"sim://{plan.profile.id}?link=virtual"
    async with DeviceConnector(url, catalog=catalog) as device:
        session = Session(
            plan,
            connect=device.connect,
            device_url=url,
            bus=bus,
            person=device.auto_person(),
            progress_every_s=60.0,
        )
        await session.run()
    bus.close()
    return timeline(plan, [event async for event in events])


def timeline(plan: Plan, events: list[BaseEvent]) -> Timeline:
    """Build the timeline from a session's events."""
    result = Timeline(routine_id=plan.routine.id, model=plan.profile.id, status="", reason="", total_s=0.0)
    by_index: dict[int, TimelineStep] = {}
    for event in events:
        if isinstance(event, StepStarted):
            step = TimelineStep(
                index=event.index,
                title=event.title,
                start_s=event.session_t,
                end_s=None,
                head=event.head,
                intensity=event.intensity,
                heat=event.heat,
                prompt=event.prompt,
            )
            by_index[event.index] = step
            result.steps.append(step)
        elif isinstance(event, StepFinished) and event.index in by_index:
            by_index[event.index].end_s = event.session_t
            by_index[event.index].outcome = event.outcome
        elif isinstance(event, SessionFinished):
            result.status, result.reason, result.total_s = event.status, event.reason, event.session_t
        elif isinstance(event, Notice):
            result.notices.append(TimelineNotice(event.session_t, event.level, event.message))
    return result
