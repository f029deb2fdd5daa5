"""The routine orchestrator: pre-flight, the session engine, its controls and the dry run."""

from massager_ctl.orchestrator.controls import ControlError, SessionResult, SessionState, TransitionError
from massager_ctl.orchestrator.person import AttendingPerson, AutoPerson, HandsOnPerson, Person, Request
from massager_ctl.orchestrator.plan import Plan, ResolvedStep, preflight, resolve
from massager_ctl.orchestrator.session import Connector, Session
from massager_ctl.orchestrator.snapshot import SessionSnapshot

__all__ = [
    "AttendingPerson",
    "AutoPerson",
    "Connector",
    "ControlError",
    "HandsOnPerson",
    "Person",
    "Plan",
    "Request",
    "ResolvedStep",
    "Session",
    "SessionResult",
    "SessionSnapshot",
    "SessionState",
    "TransitionError",
    "preflight",
    "resolve",
]
