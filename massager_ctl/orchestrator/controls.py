"""Session states, the results a session ends with, and its errors (defined in ``errors``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from massager_ctl.drivers.base import STOP_SENT_UNCONFIRMED
from massager_ctl.errors import ControlError
from massager_ctl.events import SessionStatus, StopCheck
from massager_ctl.models import DeviceProfile
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


#: The final stop in words (see :data:`~massager_ctl.events.StopCheck`).
STOP_TEXT: dict[StopCheck, str] = {
    "confirmed": "the device confirmed motor and heat off",
    "unconfirmed": "the device did NOT confirm motor and heat off: check it",
    "asked_of_person": "stop asked of the person, not confirmed by a device",
    "sent_unconfirmed": STOP_SENT_UNCONFIRMED,
    "no_device": "no device: nothing to stop",
}

_FINISHED = {SessionState.COMPLETED, SessionState.STOPPED, SessionState.ABORTED, SessionState.FAILED}


class TransitionError(RuntimeError):
    """The engine tried a state change its transition table does not declare: a bug in the engine."""


@dataclass(frozen=True, slots=True)
class SessionResult:
    """How a session ended.

    Attributes:
        device_safe: a device confirmed motor and heat off, or there was none to stop; never on a
            massager the person sets by hand (``manual://``), whose stop is only asked of them.
        stop: how the final stop is known.
    """

    session_id: str
    status: SessionStatus
    reason: str
    active_s: float
    device_safe: bool
    stop: StopCheck = "confirmed"

    @property
    def stop_text(self) -> str:
        """The final stop in words, for a summary or a log."""
        return STOP_TEXT[self.stop]

    @property
    def completed(self) -> bool:
        return self.status == "completed"


def stop_check(profile: DeviceProfile, *, safe: bool, sent_unconfirmed: bool = False) -> StopCheck:
    """How the final stop is known: a person-set massager's stop is theirs to do, whatever its driver
    says; a model that reports nothing had it sent, unconfirmed (``sent_unconfirmed``)."""
    if profile.set_by_person:
        return "asked_of_person"
    if profile.transport == "none":
        return "no_device"
    if safe:
        return "confirmed"
    return "sent_unconfirmed" if sent_unconfirmed else "unconfirmed"
