"""Where a session stands, as one immutable value."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from massager_ctl.events import SessionStatus
from massager_ctl.orchestrator.controls import SessionResult
from massager_ctl.orchestrator.plan import Plan
from massager_ctl.orchestrator.timeline import Timeline


class SessionSnapshot(BaseModel):
    """Where a session stands, for a status display or a retained MQTT message."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    routine_id: str
    routine_title: str
    device: str
    model: str
    state: str
    index: int
    steps: int
    step_title: str | None
    prompt: str | None
    waiting_for: Literal["confirm", "head_change"] | None
    head_to_fit: str | None
    step_elapsed_s: float
    step_remaining_s: float
    session_elapsed_s: float
    session_remaining_s: float
    intensity_offset: int
    status: SessionStatus | None
    reason: str | None


def take_snapshot(
    *,
    session_id: str,
    device_url: str,
    plan: Plan,
    timeline: Timeline,
    now: float,
    offset: int,
    result: SessionResult | None,
) -> SessionSnapshot:
    """Where a session with this ``timeline`` stands at session time ``now``."""
    step, waiting = timeline.step, timeline.waiting
    elapsed = timeline.step_elapsed(now)
    return SessionSnapshot(
        session_id=session_id,
        routine_id=plan.routine.id,
        routine_title=plan.routine.title,
        device=device_url,
        model=plan.profile.id,
        state=timeline.state.value,
        index=timeline.index,
        steps=len(plan.steps),
        step_title=step.title if step else None,
        prompt=step.prompt if step else None,
        waiting_for=waiting.reason if waiting else None,
        head_to_fit=waiting.head if waiting else None,
        step_elapsed_s=round(elapsed, 3),
        step_remaining_s=round(max(0.0, timeline.step_duration - elapsed), 3),
        session_elapsed_s=round(timeline.done_s + elapsed, 3),
        session_remaining_s=round(max(0.0, timeline.session_duration - timeline.done_s - elapsed), 3),
        intensity_offset=offset,
        status=result.status if result else None,
        reason=result.reason if result else None,
    )
