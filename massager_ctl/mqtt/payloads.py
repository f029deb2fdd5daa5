"""The JSON bodies of the retained ``state`` and ``session`` topics."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from massager_ctl.drivers.base import DeviceState
from massager_ctl.models import DeviceProfile


class SessionPayload(BaseModel):
    """What ``<prefix>/<id>/session`` says about the current (or last) session.

    ``status`` is the orchestrator's state name (``idle``, ``running``,
    ``paused``, ``completed``...). With no session, ``routine`` is the routine a
    ``start`` command would run. ``prompt`` is what the person is asked to do now:
    while the session waits for them (``waiting_for`` is ``confirm`` or
    ``head_change``) the wait's instruction, else the step's prompt; none once it ended.
    """

    model_config = ConfigDict(frozen=True)

    session_id: str | None = None
    routine: str | None = None
    title: str | None = None
    status: str = "idle"
    step_index: int | None = None
    step_count: int | None = None
    step_title: str | None = None
    prompt: str | None = None
    waiting_for: str | None = None
    step_remaining_s: float | None = None
    session_remaining_s: float | None = None
    progress: float = Field(0.0, ge=0.0, le=1.0)

    def to_json(self) -> dict[str, Any]:
        body = self.model_dump(mode="json")
        for key in ("step_remaining_s", "session_remaining_s"):
            if body[key] is not None:
                body[key] = round(body[key], 1)
        body["progress"] = round(body["progress"], 4)
        return body


#: Keys of the ``state`` body that come from the device's status report.
REPORTED_KEYS = (
    "motor",
    "head",
    "intensity",
    "heat",
    "heat_level",
    "mode",
    "direction",
    "temperature_c",
    "battery",
    "low_battery",
    "overheat",
    "heat_auto_off",
    "watchdog_tripped",
)


def state_payload(state: DeviceState, profile: DeviceProfile) -> dict[str, Any]:
    """The device's confirmed state, with names a dashboard can show as they are.

    While the state is stale every reported value is ``null`` (unknown) and ``stale`` is true:
    a dashboard must never show the last report as what the device does now.
    """
    body = _reported(state, profile)
    if state.stale:
        body.update(dict.fromkeys(REPORTED_KEYS))
    return body


def _reported(state: DeviceState, profile: DeviceProfile) -> dict[str, Any]:
    heat_name: str | None = None
    if profile.heat is not None and 0 <= state.heat < len(profile.heat.levels):
        heat_name = profile.heat.levels[state.heat]
    return {
        "model": profile.id,
        "connected": state.connected,
        "stale": state.stale,
        "motor": state.motor,
        "head": state.head,
        "intensity": state.intensity,
        "intensity_max": profile.intensity.max_level,
        "heat": heat_name,
        "heat_level": state.heat,
        "mode": state.mode,
        "direction": state.direction,
        "temperature_c": state.temperature_c,
        "battery": state.battery,
        "low_battery": state.low_battery,
        "overheat": state.overheat,
        "heat_auto_off": state.heat_auto_off,
        "watchdog_tripped": state.watchdog_tripped,
    }
