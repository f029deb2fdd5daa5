"""The routine orchestrator: pre-flight, the session engine, its controls and the dry run."""

from massager_ctl.orchestrator.controls import ControlError, SessionResult, SessionState
from massager_ctl.orchestrator.plan import Plan, ResolvedStep, preflight, resolve
from massager_ctl.orchestrator.session import Connector, Session
from massager_ctl.orchestrator.snapshot import SessionSnapshot

__all__ = [
    "Connector",
    "ControlError",
    "Plan",
    "ResolvedStep",
    "Session",
    "SessionResult",
    "SessionSnapshot",
    "SessionState",
    "preflight",
    "resolve",
]
