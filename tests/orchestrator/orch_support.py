"""A session rig over the real simulator (in-memory virtual link), for looptime tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from firmware_sim import FirmwareState
from firmware_sim.opener import ServedSim
from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.events import BaseEvent, EventBus, Subscription
from massager_ctl.models import Routine
from massager_ctl.orchestrator import Plan, Session, SessionResult, preflight
from massager_ctl.orchestrator.device import DeviceConnector

CATALOG = Catalog()


def make_routine(steps: list[dict[str, Any]], *, routine_id: str = "test-routine") -> Routine:
    return Routine.model_validate(
        {
            "id": routine_id,
            "title": "Test routine",
            "summary": "Built in a test.",
            "areas": ["upper-back"],
            "tools": ["electric-massager"],
            "steps": steps,
        }
    )


def make_plan(steps: list[dict[str, Any]], model: str, caps: Caps | None = None) -> Plan:
    return preflight(make_routine(steps), CATALOG.device(model), caps or Caps())


@dataclass
class Rig:
    """One session on one in-process simulator, recording events and every firmware state."""

    plan: Plan
    faults: str | None = None
    seed: int | None = None
    session_options: dict[str, Any] = field(default_factory=dict)
    connector: DeviceConnector = field(init=False)
    session: Session = field(init=False)
    bus: EventBus = field(init=False)
    subscription: Subscription = field(init=False)
    firmware_log: list[tuple[float, FirmwareState]] = field(default_factory=list)
    events: list[BaseEvent] = field(default_factory=list)

    async def __aenter__(self) -> Self:
        url = f"sim://{self.plan.profile.id}?link=virtual"
        if self.faults:
            url += f"&faults={self.faults}"
        if self.seed is not None:
            url += f"&seed={self.seed}"
        self.connector = DeviceConnector(url, catalog=CATALOG)
        await self.connector.__aenter__()
        loop = asyncio.get_running_loop()
        assert isinstance(self.connector.source, ServedSim)
        self.firmware = self.connector.source.simulator.firmware
        self.firmware.subscribe(lambda state: self.firmware_log.append((loop.time(), state)))
        self.bus = EventBus()
        self.subscription = self.bus.subscribe(maxsize=1_000_000, name="test")
        self.session = Session(
            self.plan,
            connect=self.connector.connect,
            device_url=url,
            bus=self.bus,
            **self.session_options,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.collect()
        await self.connector.aclose()

    def collect(self) -> list[BaseEvent]:
        while (event := self.subscription.get_nowait()) is not None:
            self.events.append(event)
        return self.events

    async def run(self) -> SessionResult:
        return await self.session.run()

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.collect() if e.type == kind]

    def firmware_at(self, session_t: float) -> FirmwareState:
        """The simulator's state at a session time (the last change at or before it)."""
        when = self.session.t0 + session_t / self.session.speed
        before = [state for t, state in self.firmware_log if t <= when + 1e-9]
        assert before, f"no firmware state logged before session time {session_t}"
        return before[-1]

    def firmware_between(self, start: float, end: float) -> list[FirmwareState]:
        lo = self.session.t0 + start
        hi = self.session.t0 + end
        return [state for t, state in self.firmware_log if lo <= t <= hi]


async def at(session_t: float, rig: Rig, action: Callable[[], object]) -> None:
    """Run ``action`` when the session clock reaches ``session_t``."""
    loop = asyncio.get_running_loop()
    while rig.session.state.value in ("idle", "preparing"):  # noqa: ASYNC110  # the session has no event for it
        await asyncio.sleep(0.001)
    await asyncio.sleep(max(0.0, rig.session.t0 + session_t - loop.time()))
    action()
