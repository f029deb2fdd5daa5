"""The session's internal signals and the exceptions that end a session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Signal:
    """A control or an engine event, queued for the session's loop to handle in order."""

    kind: Literal[
        "pause",
        "resume",
        "skip",
        "stop",
        "extend",
        "intensity",
        "confirm",
        "heat",
        "link_lost",
        "head_seen",
        "reapply",
        "failed",
    ]
    value: Any = None


class StopSession(Exception):
    """The session is stopped (by the person, or a cap reached)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class HelperFailed(Exception):
    """One of the session's own tasks failed: the session ends failed, the device made safe."""


class AbortSession(Exception):
    """The session cannot go on (the link did not come back)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
