"""What the web remote drives: one running session (``run --http``) or a device service (``serve --http``).

:class:`Remote` is all the app needs: where things stand as JSON, a subscription
to the live events, the routines it may start, and one way in for commands — the
same parser, rate limits, controls and answers as MQTT ``cmd``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from massager_ctl.errors import MassagerError
from massager_ctl.events import DeviceStateEvent, EventBus, Subscription
from massager_ctl.mqtt.commands import Command, CommandError, Stop, result_payload
from massager_ctl.mqtt.ratelimit import RateLimiter
from massager_ctl.mqtt.remote import control_session
from massager_ctl.orchestrator import Plan, Session

#: Events each page's stream may hold unread; progress and device state coalesce, so this is plenty.
STREAM_BUFFER = 64


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """A command's answer: the body MQTT publishes on ``cmd/result``, and whether it was parsed at all."""

    body: dict[str, Any]
    malformed: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.body["ok"])

    @property
    def busy(self) -> bool:
        return bool(self.body.get("busy"))


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

    mode: str

    def view(self) -> dict[str, Any]:
        """Where things stand, as the page's JSON."""

    def subscribe(self) -> Subscription:
        """The live events from now on.

        Raises:
            CommandError: there is nothing more to follow (the session ended).
        """

    async def command(self, command: Command | CommandError) -> Answer:
        """Carry out one command (or answer the error of one that did not parse)."""

    async def routines(self) -> list[RoutineCard]:
        """The routines the page may start (none while a session runs under ``run``)."""

    async def plan(self, routine_id: str) -> Plan:
        """``routine_id`` resolved for this device.

        Raises:
            MassagerError: no such routine, or it does not run here.
        """


def device_view(bus: EventBus) -> dict[str, Any] | None:
    """The device as last reported on ``bus``; ``assumed`` when the values may not be what it does now."""
    event = bus.latest.get("device_state")
    if not isinstance(event, DeviceStateEvent):
        return None
    body = event.model_dump(exclude={"session_id", "session_t", "wall", "type"})
    body["assumed"] = event.stale or not event.connected
    return body


class SessionRemote:
    """``run --http``: the controls of the one session this process runs.

    Args:
        session: the session.
        limiter: admission control for commands (default: the MQTT gate's rates on the loop clock).
    """

    mode = "run"

    def __init__(self, session: Session, *, limiter: RateLimiter | None = None) -> None:
        self._session = session
        self._limiter = limiter

    @property
    def bus(self) -> EventBus:
        return self._session.bus

    def view(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "model": self._session.plan.profile.id,
            "session": self._session.snapshot().model_dump(),
            "device": device_view(self._session.bus),
            "selected": self._session.plan.routine.id,
        }

    def subscribe(self) -> Subscription:
        try:
            return self._session.bus.subscribe(maxsize=STREAM_BUFFER, name="web")
        except RuntimeError as e:  # the bus closes when the session ends
            raise CommandError("the session has ended") from e

    async def command(self, command: Command | CommandError) -> Answer:
        return await admitted(command, self._limiter_now(), self._control)

    async def _control(self, command: Command) -> str:
        return control_session(self._session, command)

    def _limiter_now(self) -> RateLimiter:
        if self._limiter is None:
            self._limiter = RateLimiter(clock=asyncio.get_running_loop().time)
        return self._limiter

    async def routines(self) -> list[RoutineCard]:
        return [RoutineCard.of(self._session.plan)]

    async def plan(self, routine_id: str) -> Plan:
        if routine_id != self._session.plan.routine.id:
            raise CommandError(f"this session runs {self._session.plan.routine.id}, not {routine_id}")
        return self._session.plan


async def admitted(
    command: Command | CommandError,
    limiter: RateLimiter,
    execute: Callable[[Command], Awaitable[str]],
) -> Answer:
    """Answer ``command`` as the MQTT ``cmd`` path does: rate-limited (a stop never), errors as one line.

    Raises:
        Exception: a bug in ``execute`` (anything but a :class:`MassagerError`).
    """
    if isinstance(command, CommandError):
        action, request_id, client = command.action, command.request_id, command.client
    else:
        action, request_id, client = command.action, command.id, command.client
    if not isinstance(command, Stop) and not limiter.admit(client):
        return Answer(
            result_payload(
                ok=False,
                action=action,
                request_id=request_id,
                client=client,
                message="busy: too many commands; send it again in a moment",
                busy=True,
            )
        )
    def answer(*, ok: bool, message: str) -> dict[str, Any]:
        return result_payload(ok=ok, action=action, request_id=request_id, client=client, message=message)

    if isinstance(command, CommandError):
        return Answer(answer(ok=False, message=str(command)), malformed=True)
    try:
        message = await execute(command)
    except MassagerError as e:
        return Answer(answer(ok=False, message=one_line(e)))
    return Answer(answer(ok=True, message=message))


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


