"""Plan resolution and pre-flight: every problem listed, values mapped to the model."""

from __future__ import annotations

import pytest

from massager_ctl.config import Caps
from massager_ctl.errors import PreflightError
from massager_ctl.orchestrator import preflight, resolve
from tests.orchestrator.orch_support import CATALOG, make_routine


def test_fractions_map_to_levels_and_settings_carry_over() -> None:
    routine = make_routine(
        [
            {"title": "A", "duration": 60, "device": {"head": "zone-upper", "intensity": 0.5, "heat": "low"}},
            {"title": "B", "duration": "1m30s", "prompt": {"text": "Breathe"}},
            {"title": "C", "duration": 30, "device": {"head": "lower", "intensity": 7, "heat": "off"}},
        ]
    )
    plan = preflight(routine, CATALOG.device("serial-cushion-z3"), Caps())
    a, b, c = plan.steps
    assert (a.head and a.head.id, a.level, a.heat) == ("upper", 5, 1)
    assert (b.head and b.head.id, b.level, b.heat, b.prompt) == ("upper", 5, 1, "Breathe")
    assert (c.head and c.head.id, c.level, c.heat) == ("lower", 7, 0)
    assert [s.planned_start_s for s in plan.steps] == [0, 60, 150]
    assert plan.duration_s == 180
    assert plan.heat_budget_s == 150
    assert plan.max_level == 8


def test_every_problem_is_listed() -> None:
    routine = make_routine(
        [
            {"title": "Fork", "duration": 60, "device": {"head": "fork", "intensity": 0.9}},
            {"title": "Hot", "duration": 600, "device": {"heat": "high", "mode": "rolling"}},
            {"title": "Hotter", "duration": 600, "device": {"direction": "cw"}},
            {"title": "Long", "duration": "40m", "prompt": {"text": "Rest"}},
        ]
    )
    plan = resolve(
        routine, CATALOG.device("serial-cushion-z3"), Caps(max_intensity=0.6, max_session_minutes=45)
    )
    text = "\n".join(plan.problems)
    assert "step 1 'Fork': serial-cushion-z3 has no head 'fork'" in text
    assert "intensity 0.9 is level 9 of 10, above your cap of level 6" in text
    assert "has no mode 'rolling'" in text
    assert "cannot turn 'cw' (no direction control)" in text
    assert "steps 2–4 keep heat on for 60:00 in a row; serial-cushion-z3 allows at most 20:00" in text
    assert "lasts 61:00, longer than your cap of 45 min" in text
    assert len(plan.problems) == 6
    with pytest.raises(PreflightError) as caught:
        preflight(routine, CATALOG.device("serial-cushion-z3"), Caps(max_intensity=0.6))
    assert caught.value.problems == plan.problems


def test_heat_on_a_model_without_heat_and_heat_not_allowed() -> None:
    routine = make_routine([{"title": "Warm", "duration": 60, "device": {"heat": "low", "intensity": 2}}])
    gun = resolve(routine, CATALOG.device("pulse-gun-p5"), Caps())
    assert gun.problems == ["step 1 'Warm': heat 'low' but pulse-gun-p5 has no heater"]
    cushion = resolve(routine, CATALOG.device("shiatsu-cushion-s3"), Caps(heat_allowed=False))
    assert cushion.problems == [
        "step 1 'Warm': heat 'low', but your settings do not allow heat (caps.heat_allowed)"
    ]


def test_level_above_the_model_range() -> None:
    routine = make_routine([{"title": "Max", "duration": 60, "device": {"intensity": 4}}])
    plan = resolve(routine, CATALOG.device("shiatsu-cushion-s3"), Caps(max_intensity=1.0))
    assert plan.problems == ["step 1 'Max': intensity 4 is above shiatsu-cushion-s3's top level 3"]


def test_library_routines_fit_their_models() -> None:
    for routine_id, model in [
        ("full-session-30-gun", "pulse-gun-p5"),
        ("full-session-30-cushion", "serial-cushion-z3"),
        ("full-session-30-cushion", "shiatsu-cushion-s3"),
    ]:
        plan = resolve(CATALOG.routine(routine_id), CATALOG.device(model), Caps())
        assert plan.problems == [], (routine_id, model)
        assert plan.duration_s == 1800


def test_a_cap_below_the_lowest_level_refuses_motor_steps() -> None:
    routine = make_routine(
        [
            {"title": "Gentle", "duration": 60, "device": {"intensity": 0.1}},
            {"title": "Rest", "duration": 30, "device": {"intensity": 0}},
        ]
    )
    plan = resolve(routine, CATALOG.device("shiatsu-cushion-s3"), Caps(max_intensity=0.1))
    assert plan.problems == [
        "step 1 'Gentle': intensity 0.1 runs the motor, but shiatsu-cushion-s3's lowest level"
        " (1 of 3, 33%) is above your cap of 10% (caps.max_intensity)"
    ]
    # the same cap leaves room for level 1 of 10 on the Z3
    assert resolve(routine, CATALOG.device("serial-cushion-z3"), Caps(max_intensity=0.1)).problems == []
