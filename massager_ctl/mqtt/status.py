"""Turn session events into the retained ``state`` and ``session`` snapshots and the ``events`` stream.

Every method here returns at once: it updates a snapshot and hands it to the
:class:`~massager_ctl.mqtt.link.MqttLink`, which publishes in the background.
Lifecycle events publish the session snapshot straight away; progress updates
it at most once per ``min_interval_s`` (the latest wins).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from massager_ctl.drivers.base import DeviceState
from massager_ctl.events import (
    BaseEvent,
    Confirmed,
    DeviceStateEvent,
    Paused,
    Progress,
    Reconnected,
    Resumed,
    SessionFinished,
    SessionStarted,
    StepExtended,
    StepStarted,
    Suspended,
    WaitingForConfirm,
)
from massager_ctl.models import DeviceProfile
from massager_ctl.mqtt.link import MqttLink
from massager_ctl.mqtt.payloads import SessionPayload, state_payload
from massager_ctl.mqtt.topics import Topics

# Events with a retained topic of their own do not go to the ``events`` stream as well.
_NOT_STREAMED = frozenset({"progress"})


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class StatusPublisher:
    """Publishes one device's state, session and events through a link.

    Args:
        link: the broker connection.
        topics: the device's topics.
        profile: the device's model (names heat levels, bounds intensity).
        min_interval_s: the least time between two progress-driven session updates.
        states_from_events: take ``state`` from the bus's ``device_state`` events; turn it
            off when the owner of the driver calls :meth:`device_state` itself.
    """

    def __init__(
        self,
        link: MqttLink,
        topics: Topics,
        profile: DeviceProfile,
        *,
        min_interval_s: float = 1.0,
        states_from_events: bool = True,
    ) -> None:
        self.states_from_events = states_from_events
        self._link = link
        self._topics = topics
        self._profile = profile
        self._min_interval_s = min_interval_s
        self._loop = asyncio.get_running_loop()
        self._session = SessionPayload()
        # The step's own prompt, shown again once a wait for the person is confirmed.
        self._step_prompt: str | None = None
        self._last_session_body: dict[str, Any] | None = None
        self._last_state_body: dict[str, Any] | None = None
        self._last_session_sent = -float("inf")
        self._pending: asyncio.TimerHandle | None = None

    @property
    def session(self) -> SessionPayload:
        return self._session

    def idle(self, *, routine: str | None) -> None:
        """Say no session is running; ``routine`` is what a ``start`` would run."""
        self._session = SessionPayload(routine=routine, status="idle")
        self._send_session()

    def device_state(self, state: DeviceState) -> None:
        """Publish the device's confirmed state if it changed."""
        self._send_state(state_payload(state, self._profile))

    def event(self, event: BaseEvent) -> None:
        """Fold one session event into the snapshots and the event stream."""
        if event.type not in _NOT_STREAMED:
            self._link.send(self._topics.events, event.model_dump_json())
        if isinstance(event, DeviceStateEvent):
            if self.states_from_events:
                self._send_state(self._state_from_event(event))
            return
        update = self._session_update(event)
        if update is None:
            return
        self._session = self._session.model_copy(update=update)
        if isinstance(event, Progress):
            self._send_session_soon()
        else:
            self._send_session()

    def close(self) -> None:
        """Send any progress still held back. Safe to call twice."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
            self._send_session()

    def _session_update(self, event: BaseEvent) -> dict[str, Any] | None:
        snap = self._session
        match event:
            case SessionStarted():
                return SessionPayload(
                    session_id=event.session_id,
                    routine=event.routine_id,
                    title=event.routine_title,
                    status="preparing",
                    step_count=event.steps,
                    session_remaining_s=event.planned_duration_s,
                ).model_dump()
            case StepStarted():
                self._step_prompt = event.prompt
                return {
                    "status": "running",
                    "step_index": event.index,
                    "step_title": event.title,
                    "prompt": event.prompt,
                    "waiting_for": None,
                    "step_remaining_s": event.duration_s,
                }
            case WaitingForConfirm():
                return {
                    "status": "waiting_for_confirm",
                    "step_index": event.index,
                    "prompt": event.prompt,
                    "waiting_for": event.reason,
                }
            case Confirmed():
                return {"status": "running", "prompt": self._step_prompt, "waiting_for": None}
            case Paused():
                return {"status": "paused", "step_remaining_s": event.remaining_s}
            case Resumed() | Reconnected():
                return {"status": "running", "step_remaining_s": event.remaining_s}
            case Suspended():
                return {"status": "suspended", "step_remaining_s": event.remaining_s}
            case StepExtended():
                return {"step_remaining_s": event.remaining_s}
            case SessionFinished():
                done = event.status == "completed"
                return {
                    "status": event.status,
                    "prompt": None,
                    "waiting_for": None,
                    "step_remaining_s": 0.0 if done else snap.step_remaining_s,
                    "session_remaining_s": 0.0 if done else snap.session_remaining_s,
                    "progress": 1.0 if done else snap.progress,
                }
            case Progress():
                total = event.session_duration_s
                return {
                    "status": event.state,
                    "step_index": event.index,
                    "step_count": event.steps,
                    "step_remaining_s": event.step_remaining_s,
                    "session_remaining_s": event.session_remaining_s,
                    "progress": min(1.0, max(0.0, event.session_elapsed_s / total)) if total > 0 else 0.0,
                }
        return None

    def _state_from_event(self, event: DeviceStateEvent) -> dict[str, Any]:
        levels = self._profile.heat.levels if self._profile.heat else ["off"]
        heat_level = levels.index(event.heat) if event.heat in levels else 0
        state = DeviceState(
            connected=event.connected,
            motor=event.motor,
            head=event.head,
            intensity=event.intensity,
            heat=heat_level,
            temperature_c=event.temperature_c,
            battery=event.battery,
            watchdog_tripped="watchdog_tripped" in event.flags,
            low_battery="low_battery" in event.flags,
            overheat="overheat" in event.flags,
            heat_auto_off="heat_auto_off" in event.flags,
            stale=event.stale,
        )
        return state_payload(state, self._profile)

    def _send_state(self, body: dict[str, Any]) -> None:
        if body != self._last_state_body:
            self._last_state_body = body
            self._link.set_retained(self._topics.state, _dumps(body))

    def _send_session_soon(self) -> None:
        due = self._last_session_sent + self._min_interval_s
        if self._loop.time() >= due:
            self._send_session()
        elif self._pending is None:
            # Progress usually comes once a second: the next one after ``due`` goes out as it
            # arrives, fresh; the timer only catches the last one before the updates stop.
            self._pending = self._loop.call_at(due + self._min_interval_s / 2, self._send_session)

    def _send_session(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        body = self._session.to_json()
        if body == self._last_session_body:
            return
        self._last_session_body = body
        self._last_session_sent = self._loop.time()
        self._link.set_retained(self._topics.session, _dumps(body))
