"""Content rules for the shipped routine library.

Every built-in routine is loaded through the real catalog and its expanded plan is
walked step by step, tracking the device state the routine asks for (settings left
out of a step stay as they were), so the rules below hold for what would actually
run: safety notes, step lengths, intensity, heat budgets, head changes, and the
shape of the combined, desk-break and bedtime routines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from massager_ctl.catalog import Catalog, builtin_dir, load_routine
from massager_ctl.models import DeviceProfile, Routine
from massager_ctl.models.routine import PlannedStep

CATALOG = Catalog()
ROUTINES: dict[str, Routine] = CATALOG.routines()
DEVICES: dict[str, DeviceProfile] = CATALOG.devices()
IDS = sorted(ROUTINES)

GUN_HEADS = {"ball", "flat", "fork", "bullet", "wedge", "cushion", "thumb"}
ZONE_HEADS = {"zone-upper", "zone-middle", "zone-lower", "full-back"}
TECHNIQUE_TOOLS = {"hands", "tennis-ball", "massage-ball", "foam-roller"}
OILS = {"peppermint", "lavender", "lemongrass", "eucalyptus"}
HEAT_LEVELS = {"off", "low", "high"}

MAX_HEAT_STRETCH_S = 15 * 60  # the shortest firmware auto-off in the catalog (shiatsu cushion)
MAX_HEAT_TOTAL_S = 20 * 60


@dataclass(frozen=True)
class Moment:
    """One planned step with the device state in force while it runs."""

    step: PlannedStep
    head: str | None
    intensity: float
    heat: str
    mode: str | None
    raised: bool  # this step raises the intensity above the previous step's


def walk(routine: Routine) -> list[Moment]:
    head: str | None = None
    intensity = 0.0
    heat = "off"
    mode: str | None = None
    moments: list[Moment] = []
    for step in routine.plan():
        before = intensity
        settings = step.device
        if settings is not None:
            head = settings.head if settings.head is not None else head
            intensity = float(settings.intensity) if settings.intensity is not None else intensity
            heat = settings.heat if settings.heat is not None else heat
            mode = settings.mode if settings.mode is not None else mode
        moments.append(Moment(step, head, intensity, heat, mode, raised=intensity > before))
    return moments


def heat_stretches(moments: list[Moment]) -> list[float]:
    """Lengths of each unbroken stretch of device heat, in seconds."""
    stretches: list[float] = []
    current = 0.0
    for m in moments:
        if m.heat != "off":
            current += m.step.duration_s
        elif current:
            stretches.append(current)
            current = 0.0
    if current:
        stretches.append(current)
    return stretches


def towel_seconds(routine: Routine) -> float:
    return sum(
        s.duration_s for s in routine.plan() if s.prompt is not None and s.prompt.tool == "heated-towel"
    )


def uses_heat(routine: Routine) -> bool:
    return towel_seconds(routine) > 0 or any(m.heat != "off" for m in walk(routine))


def safety_text(routine: Routine) -> str:
    return " ".join(routine.safety).lower()


def at_minute(routine: Routine, minute: float) -> Moment:
    t = minute * 60
    for m in walk(routine):
        if m.step.planned_start_s <= t < m.step.planned_start_s + m.step.duration_s:
            return m
    raise AssertionError(f"{routine.id} has no step at minute {minute}")


def compatible_models(routine: Routine) -> list[DeviceProfile]:
    """Catalog models that have every head kind the routine needs, and heat if it needs it."""
    wanted = set(routine.requires.head_kinds)
    return [
        p
        for p in DEVICES.values()
        if wanted <= {h.kind for h in p.heads} and (p.heat is not None or not routine.requires.heat)
    ]


def test_library_size_and_file_names() -> None:
    assert len(ROUTINES) >= 12
    stems = {p.stem for p in builtin_dir("routines").glob("*.yaml")}
    assert stems == set(ROUTINES), "each routine file is named after its id"


def test_library_covers_the_design_list() -> None:
    expected = {
        "upper-back-hands",
        "upper-back-tennis-ball",
        "upper-back-foam-roller",
        "upper-back-massage-gun",
        "lower-back-hands",
        "lower-back-ball",
        "lower-back-heat-cushion",
        "lower-back-heated-towel",
        "full-session-30-gun",
        "full-session-30-cushion",
        "desk-break",
        "bedtime-wind-down",
        "shiatsu-full-back",
    }
    assert expected <= set(ROUTINES)
    used_oils = {oil for r in ROUTINES.values() for oil in r.oils}
    assert used_oils == OILS


@pytest.mark.parametrize("rid", IDS)
def test_safety_notes(rid: str) -> None:
    routine = ROUTINES[rid]
    text = safety_text(routine)
    for phrase in ("spine", "neck", "sharp pain", "not medical advice"):
        assert phrase in text, f"{rid}: safety notes must mention {phrase!r}"
    if routine.requires.device:
        for phrase in ("pacemaker", "pregnant", "diabetes", "neuropathy", "blood thinners"):
            assert phrase in text, f"{rid}: device routines must mention {phrase!r}"
    if uses_heat(routine):
        for phrase in ("skin", "fall asleep", "48-72 hours", "cold, not heat"):
            assert phrase in text, f"{rid}: heat routines must mention {phrase!r}"
    if any(m.head in GUN_HEADS for m in walk(routine)):
        assert "20 seconds" in text
        assert "lowest speed" in text


@pytest.mark.parametrize("rid", IDS)
def test_step_lengths(rid: str) -> None:
    for m in walk(ROUTINES[rid]):
        step = m.step
        assert 20 <= step.duration_s <= 600, f"{rid}: {step.title!r} is {step.duration_s} s"
        tool = step.prompt.tool if step.prompt else None
        if tool in TECHNIQUE_TOOLS:
            low = 20 if step.confirm else 30  # a set-up step may be shorter
            assert low <= step.duration_s <= 120, f"{rid}: {step.title!r}: one area is 30 s-2 min"
        if m.intensity > 0 and m.head == "bullet":
            assert step.duration_s <= 20, f"{rid}: {step.title!r}: the bullet stays <= 20 s on one spot"
        elif m.intensity > 0 and m.head in GUN_HEADS:
            assert 30 <= step.duration_s <= 120, f"{rid}: {step.title!r}: a gun on one area is 30 s-2 min"
        elif m.intensity > 0 and m.head in ZONE_HEADS:
            assert step.duration_s <= 300, f"{rid}: {step.title!r}: change the zone or pressure within 5 min"


@pytest.mark.parametrize("rid", IDS)
def test_placeholders_filled_and_titles_distinct(rid: str) -> None:
    plan = ROUTINES[rid].plan()
    for step in plan:
        texts = [step.title] + ([step.prompt.text] if step.prompt else [])
        for text in texts:
            assert not re.search(r"\{\w+\}", text), f"{rid}: unfilled placeholder in {text!r}"
    titles = [s.title for s in plan]
    assert len(titles) == len(set(titles)), f"{rid}: repeated step titles {titles}"


@pytest.mark.parametrize("rid", IDS)
def test_prompt_tools_are_listed(rid: str) -> None:
    routine = ROUTINES[rid]
    used = {s.prompt.tool for s in routine.plan() if s.prompt and s.prompt.tool}
    assert used <= set(routine.tools), f"{rid}: prompts use tools not in 'tools': {used - set(routine.tools)}"


@pytest.mark.parametrize("rid", IDS)
def test_intensity_is_portable_gentle_and_ramped(rid: str) -> None:
    routine = ROUTINES[rid]
    for step in routine.plan():
        if step.device and step.device.intensity is not None:
            value = step.device.intensity
            assert isinstance(value, float), f"{rid}: {step.title!r}: write intensity as a fraction (0.4)"
            assert 0.0 <= value <= 0.8, f"{rid}: {step.title!r}: keep intensity <= 0.8"
    running = [m for m in walk(routine) if m.intensity > 0]
    if running:
        assert running[0].intensity <= 0.4, f"{rid}: start low"
    for m in walk(routine):
        if m.raised:
            ramp = m.step.device.ramp if m.step.device else None
            assert ramp, f"{rid}: {m.step.title!r} raises intensity without ramp"


@pytest.mark.parametrize("rid", IDS)
def test_motor_runs_only_in_massager_steps(rid: str) -> None:
    for m in walk(ROUTINES[rid]):
        if m.intensity > 0 and m.step.prompt is not None:
            assert m.step.prompt.tool == "electric-massager", (
                f"{rid}: {m.step.title!r}: the motor is still running during a {m.step.prompt.tool} step"
            )
    final = walk(ROUTINES[rid])[-1]
    assert final.intensity == 0.0, f"{rid}: ends with the motor off"
    assert final.heat == "off", f"{rid}: ends with the heat off"


@pytest.mark.parametrize("rid", IDS)
def test_manual_head_changes_hold_the_motor_and_wait(rid: str) -> None:
    previous: str | None = None
    for m in walk(ROUTINES[rid]):
        if m.head != previous and m.head in GUN_HEADS:
            assert m.intensity == 0.0, f"{rid}: {m.step.title!r}: hold the motor while a head is fitted"
            assert m.step.confirm, f"{rid}: {m.step.title!r}: wait for the person to fit the head"
            assert m.step.prompt
            assert m.head in m.step.prompt.text.lower()
        previous = m.head


@pytest.mark.parametrize("rid", IDS)
def test_requirements_match_the_steps(rid: str) -> None:
    routine = ROUTINES[rid]
    moments = walk(routine)
    has_device = any(s.device is not None for s in routine.plan())
    assert routine.requires.device == has_device
    assert ("electric-massager" in routine.tools) == has_device
    kinds = {m.head for m in moments if m.head is not None}
    assert kinds == set(routine.requires.head_kinds), f"{rid}: requires.head_kinds must list {kinds}"
    heat_used = {m.heat for m in moments}
    assert heat_used <= HEAT_LEVELS
    assert routine.requires.heat == (heat_used != {"off"})


@pytest.mark.parametrize("rid", [r for r in IDS if ROUTINES[r].requires.device])
def test_device_routines_run_on_a_catalog_model(rid: str) -> None:
    routine = ROUTINES[rid]
    models = compatible_models(routine)
    assert models, f"{rid}: no catalog model has {routine.requires.head_kinds}"
    moments = walk(routine)
    modes = {m.mode for m in moments if m.mode is not None}
    levels = {m.heat for m in moments}
    for model in models:
        assert modes <= set(model.modes), f"{rid}: mode {modes} is not on {model.id}: only use shared modes"
        if model.heat is not None:
            assert levels <= set(model.heat.levels)
            assert all(s <= model.heat.max_on_s for s in heat_stretches(moments))
        first = next((m.intensity for m in moments if m.intensity > 0), None)
        if first is not None:
            assert model.intensity.level_for(first) >= 1, (
                f"{rid}: the first level rounds to off on {model.id}"
            )


@pytest.mark.parametrize("rid", IDS)
def test_heat_budget(rid: str) -> None:
    routine = ROUTINES[rid]
    moments = walk(routine)
    stretches = heat_stretches(moments)
    assert all(s <= MAX_HEAT_STRETCH_S for s in stretches), f"{rid}: device heat stretch {stretches}"
    assert sum(stretches) + towel_seconds(routine) <= MAX_HEAT_TOTAL_S
    for i, m in enumerate(moments):
        heat_before = moments[i - 1].heat if i else "off"
        if m.step.confirm:
            assert (heat_before, m.heat) == ("off", "off"), (
                f"{rid}: {m.step.title!r}: never wait for the person with the heat on"
            )
    last = routine.plan()[-1]
    assert not (last.prompt and last.prompt.tool == "heated-towel"), (
        f"{rid}: the towel comes off before the end"
    )


@pytest.mark.parametrize("rid", [r for r in IDS if ROUTINES[r].oils])
def test_oil_prompts(rid: str) -> None:
    routine = ROUTINES[rid]
    assert set(routine.oils) <= OILS
    assert "oil" in routine.tools
    assert "patch-test" in safety_text(routine)
    oil_prompts = [s.prompt.text.lower() for s in routine.plan() if s.prompt and s.prompt.tool == "oil"]
    assert oil_prompts, f"{rid}: suggests oils but never prompts for them"
    text = " ".join(oil_prompts)
    assert "optional" in text
    assert "patch-tested" in text
    assert "carrier oil" in text
    for oil in routine.oils:
        assert oil in text, f"{rid}: the oil prompt does not name {oil}"


@pytest.mark.parametrize("rid", ["full-session-30-gun", "full-session-30-cushion"])
def test_thirty_minute_sessions_follow_the_timeline(rid: str) -> None:
    routine = ROUTINES[rid]
    assert abs(routine.duration_s - 1800) <= 60
    moments = walk(routine)
    total_heat = sum(heat_stretches(moments)) + towel_seconds(routine)
    assert 0 < total_heat <= MAX_HEAT_TOTAL_S

    def heated(m: Moment) -> bool:
        return m.heat != "off" or (m.step.prompt is not None and m.step.prompt.tool == "heated-towel")

    assert heated(at_minute(routine, 2)), "0-5: heat on the lower back"
    assert at_minute(routine, 2).step.prompt is not None
    for minute in (6, 8):
        prompt = at_minute(routine, minute).step.prompt
        assert prompt is not None, f"{minute}: kneading"
        assert prompt.area == "upper-trapezius", f"{minute}: kneading"
    for minute in (10, 12):
        prompt = at_minute(routine, minute).step.prompt
        assert prompt is not None, f"{minute}: wall ball"
        assert prompt.tool == "tennis-ball", f"{minute}: wall ball"
    prompt = at_minute(routine, 14).step.prompt
    assert prompt is not None
    assert prompt.tool == "foam-roller"
    for minute in (16, 18, 20):
        m = at_minute(routine, minute)
        assert m.intensity > 0, f"{minute}: the massager is running"
    for m in moments:
        if m.intensity > 0:
            assert 15 * 60 <= m.step.planned_start_s < 21 * 60 or m.step.planned_start_s >= 27 * 60
    for minute in (22, 24):
        prompt = at_minute(routine, minute).step.prompt
        assert prompt is not None
        assert prompt.area == "quadratus-lumborum"
    prompt = at_minute(routine, 26).step.prompt
    assert prompt is not None
    assert "knuckle" in prompt.text.lower()
    assert heated(at_minute(routine, 28)), "27-30: warm finish"


def test_gun_session_changes_heads_in_the_gun_block() -> None:
    heads = [m.head for m in walk(ROUTINES["full-session-30-gun"]) if m.intensity > 0]
    assert [h for i, h in enumerate(heads) if i == 0 or heads[i - 1] != h] == ["ball", "fork", "bullet"]


def test_cushion_session_uses_device_heat_and_zones() -> None:
    routine = ROUTINES["full-session-30-cushion"]
    assert towel_seconds(routine) == 0
    assert set(routine.requires.head_kinds) <= ZONE_HEADS
    assert len(heat_stretches(walk(routine))) == 2
    assert {m.id for m in compatible_models(routine)} == {"shiatsu-cushion-s3", "serial-cushion-z3"}


def test_desk_break_is_short_and_needs_no_equipment() -> None:
    routine = ROUTINES["desk-break"]
    assert 5 * 60 <= routine.duration_s <= 8 * 60
    assert set(routine.tools) <= {"chair", "wall", "hands"}
    assert not routine.requires.device


def test_bedtime_ends_with_the_sleeping_positions_and_no_heat() -> None:
    routine = ROUTINES["bedtime-wind-down"]
    plan = routine.plan()
    back, side = plan[-2], plan[-1]
    assert back.prompt
    assert back.prompt.tool == "pillow"
    assert "on your back" in back.prompt.text
    assert "pillow under your knees" in back.prompt.text
    assert side.prompt
    assert side.prompt.tool == "pillow"
    assert "on your side" in side.prompt.text
    assert "pillow between your knees" in side.prompt.text
    towel_steps = [i for i, s in enumerate(plan) if s.prompt and s.prompt.tool == "heated-towel"]
    after = plan[towel_steps[-1] + 1]
    assert after.confirm
    assert after.prompt
    assert "towel off" in after.prompt.text.lower()
    assert walk(routine)[-1].heat == "off"


def test_tennis_ball_prompts_carry_the_technique() -> None:
    text = " ".join(s.prompt.text.lower() for s in ROUTINES["upper-back-tennis-ball"].plan() if s.prompt)
    for phrase in (
        "between your left shoulder blade and your spine",
        "not on the spine",
        "bend and straighten",
        "arm across your chest",
        "60 to 90 seconds",
        "7 out of 10",
        "sock",
    ):
        assert phrase in text


def test_foam_roller_stays_on_the_ribs() -> None:
    routine = ROUTINES["upper-back-foam-roller"]
    rolls = [s for s in routine.plan() if s.round is not None and s.title.startswith("Roll")]
    assert [s.round for s in rolls] == [1, 2]
    assert all(30 <= s.duration_s <= 60 for s in rolls)
    text = " ".join(s.prompt.text for s in routine.plan() if s.prompt)
    assert "behind your head" in text
    assert "lift your hips" in text
    assert "never foam-roll the lower back or the neck" in safety_text(routine)


def test_lower_back_ball_placement() -> None:
    plan = ROUTINES["lower-back-ball"].plan()
    placed = [s for s in plan if s.side is not None and s.title.startswith("Ease onto")]
    assert [(s.side, s.duration_s) for s in placed] == [("left", 120), ("right", 120)]
    text = " ".join(s.prompt.text for s in plan if s.prompt)
    assert "8 to 10 cm" in text
    assert "two balls" in text


def test_the_authoring_guide_example_loads(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "routines.md").read_text(encoding="utf-8")
    example = guide.split("## An annotated example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "shoulder-reset.yaml"
    path.write_text(example, encoding="utf-8")
    routine = load_routine(path)
    assert [s.title for s in routine.plan()][1:3] == ["Ball head, left shoulder", "Ball head, right shoulder"]
    assert set(routine.requires.head_kinds) == {m.head for m in walk(routine) if m.head}
    assert walk(routine)[-1].intensity == 0.0
