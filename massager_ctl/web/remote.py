"""What the web remote drives: one running session (``run --http``) or a device service (``serve --http``).

:class:`Remote` is all the app needs: where things stand as JSON, a subscription
to the live events, the routines it may start, and one way in for commands: the
same command models, gate (rate limits, a stop never held up) and answers as MQTT
``cmd`` (see :mod:`massager_ctl.orchestrator.gate`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Protocol

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.drivers.base import DeviceState
from massager_ctl.events import DeviceStateEvent, Subscription
from massager_ctl.models import DeviceProfile
from massager_ctl.orchestrator import Plan, Session, preflight, resolve
from massager_ctl.orchestrator.commands import Answer, Command, CommandError
from massager_ctl.orchestrator.gate import CommandGate
from massager_ctl.orchestrator.service import DeviceService
from massager_ctl.orchestrator.session_commands import SessionCommands

#: Events each page's stream may hold unread; progress and device state coalesce, so this is plenty.
STREAM_BUFFER = 64
#: Why a session stopped from the page ended.
WEB_STOP_REASON = "stopped from the web remote"


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """A command's answer, and whether the command was malformed (for the HTTP status)."""

    answer: Answer
    malformed: bool = False

    @classmethod
    def of(cls, command: Command | CommandError, answer: Answer) -> Reply:
        return cls(answer, malformed=isinstance(command, CommandError) and not answer.busy)


@dataclasses.dataclass(frozen=True, slots=True)
class RoutineCard:
    """One routine the page may start."""

    id: str
    title: str
    summary: str
    duration_s: float
    tools: tuple[str, ...]
    confirms: int

    @classmethod
    def of(cls, plan: Plan) -> RoutineCard:
        routine = plan.routine
        return cls(
            id=routine.id,
            title=routine.title,
            summary=routine.summary,
            duration_s=plan.duration_s,
            tools=tuple(routine.tools),
            confirms=sum(1 for s in plan.steps if s.confirm),
        )


class Remote(Protocol):
    """What the web app drives."""

    def view(self) -> dict[str, Any]:
        """Where things stand, as the page's JSON."""

    def subscribe(self) -> Subscription:
        """The live events from now on.

        Raises:
            CommandError: there is nothing more to follow (the session ended).
        """

    async def command(self, command: Command | CommandError) -> Reply:
        """Carry out one command (or answer the error of one that did not parse)."""

    async def routines(self) -> list[RoutineCard]:
        """The routines the page may start.

        Raises:
            MassagerError: the routine library does not load.
        """

    async def plan(self, routine_id: str) -> Plan:
        """``routine_id`` resolved for this device.

        Raises:
            MassagerError: no such routine, or it does not run here.
        """

    async def close(self) -> None:
        """Cancel commands still in progress (the server has stopped)."""


class SessionRemote:
    """``run --http``: the controls of the one session this process runs."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._gate = CommandGate(SessionCommands(session, stop_reason=WEB_STOP_REASON))

    def view(self) -> dict[str, Any]:
        event = self._session.bus.latest.get("device_state")
        return {
            "mode": "run",
            "model": self._session.plan.profile.id,
            "session": self._session.snapshot().model_dump(),
            "device": _reported(event) if isinstance(event, DeviceStateEvent) else None,
        }

    def subscribe(self) -> Subscription:
        try:
            return self._session.bus.subscribe(maxsize=STREAM_BUFFER, name="web")
        except RuntimeError as e:  # the bus closes when the session ends
            raise CommandError("the session has ended") from e

    async def command(self, command: Command | CommandError) -> Reply:
        return Reply.of(command, await self._gate.submit(command))

    async def routines(self) -> list[RoutineCard]:
        return [RoutineCard.of(self._session.plan)]

    async def plan(self, routine_id: str) -> Plan:
        if routine_id != self._session.plan.routine.id:
            raise CommandError(f"this session runs {self._session.plan.routine.id}, not {routine_id}")
        return self._session.plan

    async def close(self) -> None:
        await self._gate.close()


class ServiceRemote:
    """``serve --http``: a device service; the page lists what runs here and starts it.

    Args:
        service: the device's service (its gate is the one MQTT uses too).
        catalog: the routine library.
        caps: the user's limits: the page offers only routines that pass pre-flight under them.
    """

    def __init__(self, service: DeviceService, *, catalog: Catalog, caps: Caps) -> None:
        self._service = service
        self._catalog = catalog
        self._caps = caps
        self._plans: asyncio.Future[dict[str, Plan]] | None = None

    def view(self) -> dict[str, Any]:
        snapshot = self._service.snapshot()
        profile = self._service.profile
        device = snapshot.device
        return {
            "mode": "serve",
            "model": profile.id,
            "session": snapshot.session.model_dump() if snapshot.session is not None else None,
            "device": _confirmed(device, profile, up=snapshot.connected) if device is not None else None,
            "selected": snapshot.selected,
        }

    def subscribe(self) -> Subscription:
        return self._service.bus.subscribe(maxsize=STREAM_BUFFER, name="web")

    async def command(self, command: Command | CommandError) -> Reply:
        return Reply.of(command, await self._service.submit(command))

    async def routines(self) -> list[RoutineCard]:
        plans = await self._runnable()
        return [RoutineCard.of(plan) for plan in sorted(plans.values(), key=lambda p: p.routine.title)]

    async def plan(self, routine_id: str) -> Plan:
        plan = (await self._runnable()).get(routine_id)
        if plan is None:
            raise CommandError(f"{routine_id!r} is not a routine that runs on {self._service.profile.id}")
        return plan

    async def close(self) -> None:
        """Nothing to release: the service owns its gate."""

    async def _runnable(self) -> dict[str, Plan]:
        # Read and resolved once, in a thread: parsing YAML must not hold up the event loop.
        if self._plans is None:
            self._plans = asyncio.ensure_future(asyncio.to_thread(self._resolve_all))
        plans = self._plans
        try:
            return await asyncio.shield(plans)
        except Exception:
            if self._plans is plans:
                self._plans = None  # the user may fix the library meanwhile
            raise

    def _resolve_all(self) -> dict[str, Plan]:
        profile = self._service.profile
        return {
            routine.id: preflight(routine, profile, self._caps)
            for routine in self._catalog.routines().values()
            if not resolve(routine, profile, self._caps).problems
        }


def _reported(event: DeviceStateEvent) -> dict[str, Any]:
    body = event.model_dump(exclude={"session_id", "session_t", "wall", "type"})
    body["assumed"] = event.stale or not event.connected
    return body


def _confirmed(state: DeviceState, profile: DeviceProfile, *, up: bool) -> dict[str, Any]:
    heat = profile.heat.levels[state.heat] if profile.heat is not None else None
    connected = state.connected and up
    return {
        "connected": connected,
        "motor": state.motor,
        "head": state.head,
        "intensity": state.intensity,
        "heat": heat,
        "battery": state.battery,
        "temperature_c": state.temperature_c,
        "flags": list(state.flags),
        "stale": state.stale,
        "assumed": state.stale or not connected,
    }
