"""The session's timeline: where in the plan it is, when the step ends, and its state.

Pure and synchronous: every method takes the session clock's ``now`` as an
argument and nothing here awaits, sleeps or talks to a device, so the whole of
the session's timekeeping (deadlines, pauses, extensions, held time, what is
left) is testable with plain numbers.

A step that runs its course ends at its deadline, ``next_start + duration``,
where ``next_start`` is where the step before ended (its deadline, or the
moment it was skipped or confirmed), so the plan never drifts: pauses, waits
for the person and link outages shift the rest of the plan by their length.

States change only through :meth:`Timeline.enter`, which checks
:data:`TRANSITIONS` and raises :class:`TransitionError` for any change the
table does not declare.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from massager_ctl.orchestrator.controls import SessionState, TransitionError
from massager_ctl.orchestrator.plan import ResolvedStep

#: Clock tolerance: loop-clock round-off must not make a deadline look unmet.
EPS = 1e-6

_S = SessionState
_ENDS = frozenset({_S.COMPLETED, _S.STOPPED, _S.ABORTED, _S.FAILED})
_BROKEN = frozenset({_S.STOPPED, _S.ABORTED, _S.FAILED})

#: Every state change a session may make. A state may follow itself only where a new step starts in
#: the same state (the next step runs, or waits for the person again); a suspended session comes back
#: in the state it left, or ends; an ended session never changes again.
TRANSITIONS: Mapping[SessionState, frozenset[SessionState]] = {
    _S.IDLE: frozenset({_S.PREPARING}),
    _S.PREPARING: frozenset({_S.RUNNING, _S.WAITING_FOR_CONFIRM}) | _ENDS,
    _S.RUNNING: frozenset({_S.RUNNING, _S.PAUSED, _S.WAITING_FOR_CONFIRM, _S.SUSPENDED}) | _ENDS,
    _S.PAUSED: frozenset({_S.RUNNING, _S.WAITING_FOR_CONFIRM, _S.SUSPENDED}) | _ENDS,
    _S.WAITING_FOR_CONFIRM: frozenset({_S.RUNNING, _S.WAITING_FOR_CONFIRM, _S.SUSPENDED}) | _ENDS,
    _S.SUSPENDED: frozenset({_S.RUNNING, _S.PAUSED, _S.WAITING_FOR_CONFIRM}) | _BROKEN,
    _S.COMPLETED: frozenset(),
    _S.STOPPED: frozenset(),
    _S.ABORTED: frozenset(),
    _S.FAILED: frozenset(),
}

#: States in which the session's time does not count as active massage time.
HELD = frozenset({_S.PAUSED, _S.WAITING_FOR_CONFIRM, _S.SUSPENDED})


@dataclass(frozen=True, slots=True)
class Request:
    """What the session waits for the person to do before a step's time starts."""

    index: int
    reason: Literal["confirm", "head_change"]
    head: str | None
    prompt: str


class Timeline:
    """The session's position in its plan and its state; all times are session-clock seconds.

    Args:
        planned_s: how long the plan runs without pauses or extensions.
        on_change: called after every state change, with the new state (the session reports progress).
    """

    def __init__(self, planned_s: float, *, on_change: Callable[[SessionState], None] | None = None) -> None:
        self._state = SessionState.IDLE
        self._on_change = on_change
        self._planned_s = planned_s
        self.step: ResolvedStep | None = None
        self.step_duration = 0.0
        self.deadline = 0.0
        self.remaining = 0.0
        self.next_start = 0.0
        self.done_s = 0.0
        self.extended_s = 0.0
        self.waiting: Request | None = None
        self._held_s = 0.0
        self._held_since: float | None = None

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def index(self) -> int:
        return self.step.index if self.step else 0

    def enter(self, state: SessionState, now: float) -> None:
        """Change to ``state`` at ``now``, as :data:`TRANSITIONS` allows.

        Raises:
            TransitionError: the table does not allow going from the current state to ``state``.
        """
        if state not in TRANSITIONS[self._state]:
            raise TransitionError(f"a session cannot go from {self._state.value} to {state.value}")
        if state in HELD and self._held_since is None:
            self._held_since = now
        elif state not in HELD and self._held_since is not None:
            self._held_s += now - self._held_since
            self._held_since = None
        self._state = state
        if self._on_change is not None:
            self._on_change(state)

    # ------------------------------------------------------------------ steps

    def begin_step(self, step: ResolvedStep) -> None:
        """Make ``step`` the current one; its time has not started."""
        self.step = step
        self.step_duration = step.duration_s
        self.remaining = 0.0

    def ask(self, request: Request, now: float) -> None:
        """Wait for the person: the step's time starts when they are ready."""
        self.waiting = request
        self.enter(SessionState.WAITING_FOR_CONFIRM, now)

    def answered(self) -> None:
        self.waiting = None

    def start_at(self, t: float) -> None:
        """The current step's time starts at ``t`` (the person was ready, or a step was skipped)."""
        self.next_start = t

    def start_timing(self, now: float) -> None:
        """Run the current step: it ends at its deadline unless paused, extended or skipped."""
        self.deadline = self.next_start + self.step_duration
        self.enter(SessionState.RUNNING, now)

    def ran_out(self, now: float) -> bool:
        """Whether the running step has reached its deadline."""
        return now >= self.deadline - EPS

    def complete_step(self) -> None:
        """The step ran its course: the next one starts at its deadline, not when the loop got round to it."""
        self.next_start = self.deadline

    def finish_step(self) -> None:
        self.done_s += self.step_duration

    # ------------------------------------------------------------------ shifts

    def pause(self, now: float) -> float:
        """Pause the running step; returns the time it had left."""
        self.remaining = max(0.0, self.deadline - now)
        self.enter(SessionState.PAUSED, now)
        return self.remaining

    def resume(self, now: float) -> float:
        """Run the paused step again with the time it had left; returns that time."""
        self.deadline = now + self.remaining
        self.enter(SessionState.RUNNING, now)
        return self.remaining

    def extend(self, seconds: float, now: float) -> float:
        """Give the current step ``seconds`` more; returns the time it now has left."""
        self.extended_s += seconds
        self.step_duration += seconds
        if self._state is SessionState.PAUSED:
            self.remaining += seconds
            return self.remaining
        self.deadline += seconds
        return self.deadline - now

    def suspend(self, now: float) -> tuple[SessionState, float]:
        """The link is down: hold the step. Returns the state to come back to and the step's time left."""
        before = self._state
        if before is SessionState.RUNNING:
            self.remaining = max(0.0, self.deadline - now)
        held = before in (SessionState.RUNNING, SessionState.PAUSED)
        left = self.remaining if held else self.step_duration
        self.enter(SessionState.SUSPENDED, now)
        return before, left

    def restore(self, before: SessionState, now: float) -> None:
        """The link is back: return to ``before``; a running step gets the time it had left."""
        if before is SessionState.RUNNING:
            self.deadline = now + self.remaining
        self.enter(before, now)

    # ------------------------------------------------------------------ readings

    def held_s(self, now: float) -> float:
        """Seconds spent paused, waiting for the person or suspended."""
        return self._held_s + (now - self._held_since if self._held_since is not None else 0.0)

    def active_s(self, now: float) -> float:
        """Seconds of the session not spent held: what counts against the user's session cap."""
        return max(0.0, now - self.held_s(now))

    def step_elapsed(self, now: float) -> float:
        if self.step is None:
            return 0.0
        if self._state is SessionState.RUNNING:
            return max(0.0, self.step_duration - (self.deadline - now))
        if self._state in (SessionState.PAUSED, SessionState.SUSPENDED) and self.remaining:
            return max(0.0, self.step_duration - self.remaining)
        return 0.0

    @property
    def session_duration(self) -> float:
        """The plan's length with every extension so far."""
        return self._planned_s + self.extended_s
