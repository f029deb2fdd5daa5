"""Where a session stands, as one immutable value."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from massager_ctl.events import SessionStatus


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
