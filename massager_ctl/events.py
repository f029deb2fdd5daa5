"""Session events and the bus that carries them to subscribers.

Every event is a frozen pydantic model with a ``type`` tag, ``session_t``
(seconds since the session started, on the event loop's clock, in routine time)
and ``wall`` (ISO 8601, UTC). :data:`EVENT_ADAPTER` parses any event back from
its JSON form.

The :class:`EventBus` never blocks the publisher: each :class:`Subscription`
has a bounded buffer. Snapshot events (``progress``, ``device_state``) coalesce
so that only the latest of each waits in a buffer; lifecycle events are kept in
order. When a buffer is full, waiting snapshots are dropped first; if it is
still full, the lifecycle event is counted in :attr:`Subscription.dropped` and
the reader finds an ``events_dropped`` event with the count where the lost
events would have been (the one slot a buffer may hold beyond its size).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SessionStatus = Literal["completed", "stopped", "aborted", "failed"]
#: Who stopped the massager at the end: the device confirmed it (or did not), the person was asked to
#: (``manual://``: nothing can confirm it), or there was no device to stop.
StopCheck = Literal["confirmed", "unconfirmed", "sent_unconfirmed", "asked_of_person", "no_device"]
SessionStateName = Literal[
    "idle",
    "preparing",
    "running",
    "paused",
    "waiting_for_confirm",
    "suspended",
    "completed",
    "stopped",
    "aborted",
    "failed",
]


def wall_now() -> str:
    """The current wall-clock time, ISO 8601 in UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class BaseEvent(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_id: str
    session_t: float = Field(description="Seconds since the session started (loop clock, routine time).")
    wall: str = Field(default_factory=wall_now, description="Wall-clock time, ISO 8601 UTC.")

    #: Snapshot events replace an older unread one of the same type instead of queueing.
    coalesce: ClassVar[bool] = False

    type: str


class SessionStarted(BaseEvent):
    type: Literal["session_started"] = "session_started"
    routine_id: str
    routine_title: str
    device: str = Field(description="The device URL.")
    model: str
    steps: int
    planned_duration_s: float


class StepStarted(BaseEvent):
    type: Literal["step_started"] = "step_started"
    index: int
    title: str
    planned_start_s: float = Field(description="Where the routine's plan puts this step.")
    duration_s: float
    head: str | None = Field(description="Catalog head id the step uses (None: unchanged).")
    intensity: int | None = Field(description="Target level after caps (None: unchanged).")
    heat: str | None = Field(description="Heat level name (None: unchanged).")
    prompt: str | None
    tool: str | None = None
    area: str | None = None
    side: str | None = None


class WaitingForConfirm(BaseEvent):
    type: Literal["waiting_for_confirm"] = "waiting_for_confirm"
    index: int
    reason: Literal["confirm", "head_change"]
    head: str | None = Field(None, description="The head to fit, for a manual head change.")
    prompt: str


class Confirmed(BaseEvent):
    type: Literal["confirmed"] = "confirmed"
    index: int
    by: Literal["user", "auto", "device"]


class DeviceStateEvent(BaseEvent):
    type: Literal["device_state"] = "device_state"
    coalesce: ClassVar[bool] = True
    connected: bool
    motor: bool
    head: str | None
    intensity: int
    heat: str | None = Field(description="Heat level name; None on a model without heat.")
    battery: int | None
    temperature_c: float | None = None
    flags: list[str] = Field(default_factory=list, description="watchdog_tripped, low_battery, overheat, ...")
    stale: bool = Field(
        False,
        description="The device acked a change it has not reported yet: the values are its last report, "
        "not what it does now; show them as unknown.",
    )


class Paused(BaseEvent):
    type: Literal["paused"] = "paused"
    index: int
    remaining_s: float


class Resumed(BaseEvent):
    type: Literal["resumed"] = "resumed"
    index: int
    remaining_s: float


class Suspended(BaseEvent):
    type: Literal["suspended"] = "suspended"
    index: int
    reason: str
    remaining_s: float


class Reconnected(BaseEvent):
    type: Literal["reconnected"] = "reconnected"
    index: int
    attempts: int
    remaining_s: float


class StepExtended(BaseEvent):
    type: Literal["step_extended"] = "step_extended"
    index: int
    by_s: float
    remaining_s: float


class IntensityNudged(BaseEvent):
    type: Literal["intensity_nudged"] = "intensity_nudged"
    index: int
    offset: int = Field(description="Levels added to every step's planned intensity from now on.")
    level: int


class Notice(BaseEvent):
    """Something the person should know that does not change the session's state."""

    type: Literal["notice"] = "notice"
    level: Literal["info", "warning"]
    message: str


class StepFinished(BaseEvent):
    type: Literal["step_finished"] = "step_finished"
    index: int
    title: str
    outcome: Literal["completed", "skipped", "stopped"]


class SessionFinished(BaseEvent):
    type: Literal["session_finished"] = "session_finished"
    status: SessionStatus
    reason: str
    active_s: float = Field(description="Seconds of routine time that ran (pauses and waits excluded).")
    stop: StopCheck = Field(
        "confirmed", description="How the final stop is known (asked_of_person: manual://)."
    )


class Progress(BaseEvent):
    type: Literal["progress"] = "progress"
    coalesce: ClassVar[bool] = True
    state: SessionStateName
    index: int
    steps: int
    step_elapsed_s: float
    step_duration_s: float
    session_elapsed_s: float
    session_duration_s: float

    @property
    def step_remaining_s(self) -> float:
        return max(0.0, self.step_duration_s - self.step_elapsed_s)

    @property
    def session_remaining_s(self) -> float:
        return max(0.0, self.session_duration_s - self.session_elapsed_s)


class EventsDropped(BaseEvent):
    """Delivered to a subscriber whose buffer overflowed: ``count`` events it never got."""

    type: Literal["events_dropped"] = "events_dropped"
    count: int


Event = Annotated[
    SessionStarted
    | StepStarted
    | WaitingForConfirm
    | Confirmed
    | DeviceStateEvent
    | Paused
    | Resumed
    | Suspended
    | Reconnected
    | StepExtended
    | IntensityNudged
    | Notice
    | StepFinished
    | SessionFinished
    | Progress
    | EventsDropped,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def to_json(event: BaseEvent) -> str:
    """One event as a compact JSON object (one JSON line, without the newline)."""
    return event.model_dump_json()


class Subscription:
    """One subscriber's bounded buffer; iterate it with ``async for``.

    Iteration ends once the bus is closed and the buffer is drained, or after
    :meth:`close`.
    """

    def __init__(self, bus: EventBus, *, maxsize: int, name: str) -> None:
        if maxsize < 2:
            raise ValueError("a subscription needs room for at least 2 events")
        self.name = name
        self.maxsize = maxsize
        self.dropped = 0
        self._bus = bus
        self._buffer: collections.deque[BaseEvent] = collections.deque()
        self._closed = False
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._buffer)

    def _offer(self, event: BaseEvent) -> None:
        if self._closed:
            return
        if event.coalesce:
            for i, waiting in enumerate(self._buffer):
                if waiting.coalesce and type(waiting) is type(event):
                    del self._buffer[i]
                    break
        if len(self._buffer) >= self.maxsize:
            self._evict_snapshot()
        if len(self._buffer) >= self.maxsize:
            if event.coalesce:
                return  # a newer snapshot will follow; nothing lasting is lost
            self.dropped += 1
            last = self._buffer[-1] if self._buffer else None
            if isinstance(last, EventsDropped):
                self._buffer[-1] = last.model_copy(update={"count": last.count + 1})
            else:
                self._buffer.append(
                    EventsDropped(session_id=event.session_id, session_t=event.session_t, count=1)
                )
            return
        self._buffer.append(event)
        self._ready.set()

    def _evict_snapshot(self) -> None:
        for i, waiting in enumerate(self._buffer):
            if waiting.coalesce:
                del self._buffer[i]
                return

    def _end(self) -> None:
        self._closed = True
        self._ready.set()

    def get_nowait(self) -> BaseEvent | None:
        """The next buffered event, or ``None`` when none is waiting."""
        if not self._buffer:
            self._ready.clear()
            return None
        return self._buffer.popleft()

    async def get(self) -> BaseEvent | None:
        """Wait for the next event; ``None`` once the subscription has ended."""
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self._closed:
                return None
            await self._ready.wait()

    def __aiter__(self) -> AsyncIterator[BaseEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BaseEvent]:
        while (event := await self.get()) is not None:
            yield event

    def close(self) -> None:
        """Stop receiving events; safe to call twice."""
        self._bus._remove(self)
        self._end()


class EventBus:
    """Fan-out of session events to any number of subscribers; ``publish`` never waits."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._closed = False
        self.latest: dict[str, BaseEvent] = {}
        """The last event of each type, for a subscriber that joins late (e.g. a retained snapshot)."""

    def subscribe(self, *, maxsize: int = 256, name: str = "") -> Subscription:
        """A new subscription that receives every event published from now on.

        Raises:
            RuntimeError: the bus is closed.
        """
        if self._closed:
            raise RuntimeError("the event bus is closed")
        subscription = Subscription(self, maxsize=maxsize, name=name)
        self._subscriptions.append(subscription)
        return subscription

    def publish(self, event: BaseEvent) -> None:
        """Hand an event to every subscriber's buffer; returns at once."""
        self.latest[event.type] = event
        for subscription in list(self._subscriptions):
            subscription._offer(event)

    def close(self) -> None:
        """End every subscription once its buffer is drained; safe to call twice."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription._end()
        self._subscriptions.clear()

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)


async def write_json_lines(subscription: Subscription, stream: TextIO) -> None:
    """Write each event as one JSON line (flushed) until the subscription ends."""
    async for event in subscription:
        stream.write(to_json(event) + "\n")
        stream.flush()
