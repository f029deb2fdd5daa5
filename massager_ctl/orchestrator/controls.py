"""Session states, the results a session ends with, and its errors (defined in ``errors``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from massager_ctl.errors import ControlError
from massager_ctl.events import SessionStatus
from massager_ctl.retry import Backoff

__all__ = ["RECONNECT", "ControlError", "SessionResult", "SessionState", "TransitionError"]

#: How a session reconnects after a drop unless told otherwise: 5 tries over about 11 s.
RECONNECT = Backoff(initial_s=0.5, max_s=8.0, attempts=5)


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


class TransitionError(RuntimeError):
    """The engine tried a state change its transition table does not declare: a bug in the engine."""


@dataclass(frozen=True, slots=True)
class SessionResult:
    """How a session ended.

    Attributes:
        device_safe: the device confirmed motor and heat off.
        stop_unconfirmed: the final stop went to a model that reports nothing: sent several times,
            not confirmed by this model — neither confirmed nor a failure.
    """

    session_id: str
    status: SessionStatus
    reason: str
    active_s: float
    device_safe: bool
    stop_unconfirmed: bool = False

    @property
    def completed(self) -> bool:
        return self.status == "completed"
