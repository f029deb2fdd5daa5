"""Session states, the results a session ends with, and the errors of controls and state changes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from massager_ctl.errors import MassagerError
from massager_ctl.events import SessionStatus


class SessionState(enum.StrEnum):
    IDLE = "idle"
    PREPARING = "preparing"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING_FOR_CONFIRM = "waiting_for_confirm"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    STOPPED = "stopped"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = {SessionState.COMPLETED, SessionState.STOPPED, SessionState.ABORTED, SessionState.FAILED}


class ControlError(MassagerError):
    """A control (pause, confirm, ...) does not apply in the session's current state."""


class TransitionError(MassagerError):
    """The engine tried a state change its transition table does not declare (a bug in the engine)."""


@dataclass(frozen=True, slots=True)
class SessionResult:
    """How a session ended."""

    session_id: str
    status: SessionStatus
    reason: str
    active_s: float
    device_safe: bool

    @property
    def completed(self) -> bool:
        return self.status == "completed"


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How hard to try when the link drops: ``attempts`` tries, backing off exponentially."""

    attempts: int = 5
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delays(self) -> list[float]:
        return [min(self.max_delay_s, self.first_delay_s * 2**i) for i in range(self.attempts)]
