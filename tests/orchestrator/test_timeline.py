"""The pure timeline: its declared state-transition table, deadlines, shifts and held time.

No event loop, no device: every reading is a function of the times passed in.
"""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from massager_ctl.orchestrator import SessionState
from massager_ctl.orchestrator.controls import TransitionError
from massager_ctl.orchestrator.timeline import HELD, TRANSITIONS, Request, Timeline
from tests.orchestrator.orch_support import make_plan

S = SessionState
PLAN = make_plan(
    [{"title": f"S{i}", "duration": 60, "device": {"intensity": 2}} for i in range(3)], "serial-cushion-z3"
)


def _path_to(target: SessionState) -> list[SessionState]:
    """The shortest chain of declared transitions from idle to ``target``."""
    paths: deque[list[SessionState]] = deque([[S.IDLE]])
    while paths:
        path = paths.popleft()
        if path[-1] is target:
            return path[1:]
        paths.extend([*path, nxt] for nxt in TRANSITIONS[path[-1]] if nxt not in path)
    raise AssertionError(f"{target} cannot be reached from idle")


def _timeline_in(state: SessionState, changes: list[SessionState] | None = None) -> Timeline:
    timeline = Timeline(PLAN.duration_s, on_change=None if changes is None else changes.append)
    for t, step in enumerate(_path_to(state)):
        timeline.enter(step, float(t))
    assert timeline.state is state
    return timeline


def test_the_table_names_every_state_and_every_state_is_reachable() -> None:
    assert set(TRANSITIONS) == set(SessionState)
    for state in SessionState:
        _timeline_in(state)  # raises if the table cannot get there


def test_the_table_says_what_the_design_says() -> None:
    ends = {S.COMPLETED, S.STOPPED, S.ABORTED, S.FAILED}
    for end in ends:
        assert TRANSITIONS[end] == frozenset(), f"{end} must be final"
    assert TRANSITIONS[S.IDLE] == {S.PREPARING}
    assert S.COMPLETED not in TRANSITIONS[S.SUSPENDED]  # a session never completes while its link is down
    for state in set(SessionState) - ends - {S.IDLE}:
        assert {S.STOPPED, S.ABORTED, S.FAILED} <= TRANSITIONS[state], f"{state} must be able to end"
    assert TRANSITIONS[S.RUNNING] >= {S.PAUSED, S.SUSPENDED, S.WAITING_FOR_CONFIRM}
    assert TRANSITIONS[S.PAUSED] >= {S.RUNNING, S.SUSPENDED}
    assert TRANSITIONS[S.SUSPENDED] >= {S.RUNNING, S.PAUSED, S.WAITING_FOR_CONFIRM}


@pytest.mark.parametrize(
    ("before", "after"),
    [(a, b) for a, b in itertools.product(SessionState, repeat=2) if b not in TRANSITIONS[a]],
    ids=lambda s: s.value,
)
def test_every_illegal_transition_is_refused_and_changes_nothing(before: S, after: S) -> None:
    changes: list[SessionState] = []
    timeline = _timeline_in(before, changes)
    seen = list(changes)
    with pytest.raises(TransitionError, match=f"cannot go from {before.value} to {after.value}"):
        timeline.enter(after, 100.0)
    assert timeline.state is before
    assert changes == seen  # nobody was told of a change that did not happen


def test_every_legal_transition_is_taken_and_reported() -> None:
    for before, targets in TRANSITIONS.items():
        for after in targets:
            changes: list[SessionState] = []
            timeline = _timeline_in(before, changes)
            changes.clear()
            timeline.enter(after, 100.0)
            assert (timeline.state, changes) == (after, [after])


def test_steps_follow_their_deadlines_not_the_moment_they_were_handled() -> None:
    timeline = Timeline(PLAN.duration_s)
    timeline.enter(S.PREPARING, 0.0)
    first, second = PLAN.steps[0], PLAN.steps[1]
    timeline.begin_step(first)
    timeline.start_timing(0.0)
    assert timeline.deadline == 60.0
    assert not timeline.ran_out(59.9)
    assert timeline.ran_out(60.0 - 1e-7)  # loop round-off does not miss a deadline
    timeline.complete_step()
    timeline.finish_step()
    timeline.begin_step(second)
    timeline.start_timing(60.3)  # handled late: the step still ends at 120
    assert timeline.deadline == 120.0
    assert timeline.step_elapsed(90.0) == pytest.approx(30.0)


def test_pause_extend_and_resume_shift_the_rest_and_count_as_held() -> None:
    timeline = Timeline(PLAN.duration_s)
    timeline.enter(S.PREPARING, 0.0)
    timeline.begin_step(PLAN.steps[0])
    timeline.start_timing(0.0)
    assert timeline.pause(20.0) == pytest.approx(40.0)
    assert timeline.state is S.PAUSED
    assert timeline.extend(15.0, 50.0) == pytest.approx(55.0)  # paused: the time left grows
    assert timeline.step_elapsed(70.0) == pytest.approx(20.0)
    assert timeline.resume(80.0) == pytest.approx(55.0)
    assert timeline.deadline == pytest.approx(135.0)
    assert timeline.held_s(90.0) == pytest.approx(60.0)
    assert timeline.active_s(90.0) == pytest.approx(30.0)
    assert timeline.extend(5.0, 100.0) == pytest.approx(40.0)  # running: the deadline moves
    assert timeline.session_duration == pytest.approx(PLAN.duration_s + 20.0)


def test_a_suspended_step_comes_back_in_its_state_with_the_time_it_had_left() -> None:
    timeline = Timeline(PLAN.duration_s)
    timeline.enter(S.PREPARING, 0.0)
    timeline.begin_step(PLAN.steps[0])
    timeline.start_timing(0.0)
    before, left = timeline.suspend(40.0)
    assert (before, timeline.state) == (S.RUNNING, S.SUSPENDED)
    assert left == pytest.approx(20.0)
    assert S.SUSPENDED in HELD
    timeline.restore(before, 47.0)
    assert timeline.state is S.RUNNING
    assert timeline.deadline == pytest.approx(67.0)
    assert timeline.active_s(47.0) == pytest.approx(40.0)


def test_a_wait_for_the_person_is_held_time_and_its_step_starts_when_they_are_ready() -> None:
    timeline = Timeline(PLAN.duration_s)
    timeline.enter(S.PREPARING, 0.0)
    timeline.begin_step(PLAN.steps[0])
    request = Request(0, "head_change", "fork", "Fit the fork head, then confirm.")
    timeline.ask(request, 0.0)
    assert (timeline.state, timeline.waiting) == (S.WAITING_FOR_CONFIRM, request)
    before, left = timeline.suspend(5.0)  # a drop while waiting: the whole step is still to come
    assert (before, left) == (S.WAITING_FOR_CONFIRM, 60.0)
    timeline.restore(before, 8.0)
    timeline.answered()
    timeline.start_at(30.0)
    timeline.start_timing(30.0)
    assert (timeline.waiting, timeline.deadline, timeline.held_s(30.0)) == (None, 90.0, 30.0)
