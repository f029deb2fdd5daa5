"""The cue planner: what a session says and when, worked out from the resolved plan (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from massager_ctl.config import Caps
from massager_ctl.drivers.manual import manual_profile
from massager_ctl.orchestrator import Plan, preflight
from massager_ctl.voice.cues import DEFAULT_RULES, Cue, plan_cues
from tests.orchestrator.orch_support import CATALOG, make_plan, make_routine


def gun_plan() -> Plan:
    return preflight(CATALOG.routine("upper-back-massage-gun"), CATALOG.device("pulse-gun-p5"), Caps())


def test_every_step_has_its_title_and_prompt_at_its_start() -> None:
    plan = gun_plan()
    sheet = plan_cues(plan)
    for step in plan.steps:
        [cue] = sheet.at("step_start", step.index)
        assert cue.kind == "step"
        assert cue.text.startswith(step.title)
        assert step.prompt is not None
        assert " ".join(step.prompt.split()) in cue.text


def test_safety_notes_come_first_and_endings_last() -> None:
    plan = gun_plan()
    sheet = plan_cues(plan)
    first, last = sheet.cues[0], sheet.cues[-1]
    assert (first.kind, first.trigger) == ("safety", "before")
    assert first.text.startswith("Before we start. Never use the gun on the spine")
    assert all(note.split()[0] in first.text for note in plan.routine.safety)
    assert last.trigger == "end"
    assert {c.key for c in sheet.cues if c.trigger == "end"} == {"completed", "stopped", "aborted", "failed"}
    assert sheet.at("end", "completed")[0].text == "Session complete. Well done."


def test_the_warning_says_what_comes_next() -> None:
    plan = gun_plan()
    sheet = plan_cues(plan)
    warnings = {c.key: c.text for c in sheet.cues if c.kind == "warning"}
    titles = [s.title for s in plan.steps]
    before_fork = titles.index("Fit the fork head") - 1
    assert warnings[before_fork] == "Ten seconds, then fit the fork head."
    left = titles.index("Fork beside the spine, left side")
    assert warnings[left] == "Ten seconds, then switch sides."
    assert warnings[len(titles) - 1] == "Ten seconds, then the session ends."
    # a 20 s step is warned; every warning chimes
    assert all(c.chime for c in sheet.cues if c.kind == "warning")
    assert all(c.kind != "warning" or plan.steps[int(str(c.key))].duration_s >= 20 for c in sheet.cues)


def test_the_warning_names_a_new_tool_or_the_next_title() -> None:
    plan = make_plan(
        [
            {"title": "Knead", "duration": 60, "prompt": {"text": "Knead.", "tool": "hands"}},
            {"title": "Roll", "duration": 60, "prompt": {"text": "Roll.", "tool": "foam-roller"}},
            {"title": "Rest, round 1", "duration": 60, "prompt": {"text": "Rest.", "tool": "foam-roller"}},
            {"title": "Short", "duration": 15, "prompt": {"text": "Breathe."}},
        ],
        "serial-cushion-z3",
    )
    warnings = {c.key: c.text for c in plan_cues(plan).cues if c.kind == "warning"}
    assert warnings == {
        0: "Ten seconds, then the foam roller.",
        1: "Ten seconds, then rest, round 1.",
        2: "Ten seconds, then short.",
    }  # the 15 s step gets none: it would talk over its own start


def test_heat_changes_are_said_with_the_step_that_makes_them() -> None:
    plan = make_plan(
        [
            {"title": "Warm", "duration": 60, "device": {"head": "lower", "intensity": 2, "heat": "low"}},
            {"title": "Warmer", "duration": 60, "device": {"heat": "high"}},
            {"title": "Same", "duration": 60, "device": {"intensity": 3}},
            {"title": "Cool", "duration": 60, "device": {"heat": "off"}},
        ],
        "serial-cushion-z3",
    )
    sheet = plan_cues(plan)
    heat = [(c.key, c.text) for c in sheet.cues if c.kind == "heat"]
    assert heat == [(0, "Heat on, low."), (1, "Heat on, high."), (3, "Heat off.")]
    assert [c.kind for c in sheet.at("step_start", 0)] == ["step", "heat"]  # the title first


def test_head_changes_and_confirms_have_their_own_cues() -> None:
    plan = gun_plan()
    sheet = plan_cues(plan)
    fork = next(s for s in plan.steps if s.title == "Fit the fork head")
    assert [c.text for c in sheet.at("head_change", fork.index)] == ["Fit the fork head, then confirm."]
    assert [c.text for c in sheet.at("confirm", fork.index)] == ["Confirm when you are ready."]
    ball = plan.steps[0]
    assert sheet.at("head_change", ball.index)[0].text == "Fit the large ball head, then confirm."


def test_each_sound_is_synthesised_once_first_needed_first() -> None:
    sheet = plan_cues(gun_plan())
    unique = sheet.unique()
    assert len({(c.text, c.chime) for c in unique}) == len(unique)
    assert {(c.text, c.chime) for c in unique} == {(c.text, c.chime) for c in sheet.cues}
    assert len(unique) < len(sheet.cues)  # "switch sides", "confirm when you are ready" repeat
    assert unique[0].kind == "safety"
    assert unique.index(sheet.at("step_start", 0)[0]) < unique.index(sheet.at("step_start", 1)[0])


def test_a_device_can_add_its_own_cue_kind_with_a_rule() -> None:
    # what a manual:// device will do: each setting becomes a spoken instruction at the step's start
    plan = make_plan(
        [
            {"title": "Low", "duration": 30, "device": {"head": "lower", "intensity": 2}},
            {"title": "High", "duration": 30, "device": {"intensity": 4}},
        ],
        "serial-cushion-z3",
    )

    def instructions(plan: Plan) -> Iterable[Cue]:
        for step in plan.steps:
            yield Cue("instruction", f"Set the speed to {step.level}.", "step_start", step.index)

    sheet = plan_cues(plan, rules=[*DEFAULT_RULES, instructions])
    assert [c.text for c in sheet.at("step_start", 1)] == ["High.", "Set the speed to 4."]


def test_the_first_head_is_named_and_a_change_is_asked_for() -> None:
    plan = make_plan(
        [
            {"title": "Roll", "duration": 30, "prompt": {"text": "Roll.", "tool": "foam-roller"}},
            {"title": "Ball", "duration": 30, "device": {"head": "ball", "intensity": 1}},
            {"title": "Fork", "duration": 30, "device": {"head": "fork", "intensity": 1}},
        ],
        "pulse-gun-p5",
    )
    warnings = [c.text for c in plan_cues(plan).cues if c.kind == "warning"]
    # the ball may already be on (the session only asks when it is not): named, not "fit"
    assert warnings[:2] == ["Ten seconds, then the large ball head.", "Ten seconds, then fit the fork head."]


def test_a_massager_set_by_hand_hears_each_setting_as_an_instruction() -> None:
    steps = [
        {"title": "Low", "duration": 30, "device": {"intensity": 1, "heat": "low"}},
        {"title": "High", "duration": 30, "device": {"intensity": 2}},
        {"title": "Cool", "duration": 30, "device": {"intensity": 2, "heat": "off"}},
    ]
    manual = preflight(make_routine(steps), manual_profile("manual://shiatsu-cushion-s3", CATALOG), Caps())
    sheet = plan_cues(manual)
    assert [c.text for c in sheet.at("step_start", 1)] == ["High.", "Set the speed to 2."]
    assert [c.text for c in sheet.at("confirm", 0)] == ["Switch the heat to low, then confirm."]
    assert [c.text for c in sheet.at("confirm", 2)] == ["Switch the heat off, then confirm."]
    assert [c.text for c in sheet.at("end", "completed")] == [
        "Session complete. Well done.",
        "Switch the massager off now.",
    ]
    on_a_device = plan_cues(preflight(make_routine(steps), CATALOG.device("shiatsu-cushion-s3"), Caps()))
    assert not [c for c in on_a_device.cues if c.kind == "instruction"]
