"""A routine's timeline: what the SVG and PNG show matches the resolved plan the engine would run."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.errors import ConfigError
from massager_ctl.models import Routine
from massager_ctl.orchestrator.plan import Plan, preflight
from massager_ctl.pictures import routine_timeline
from massager_ctl.pictures.render import PNG_DPI, WIDTH_IN
from massager_ctl.pictures.timeline import (
    HEAD_COLOURS,
    HEAT_COLOURS,
    HEIGHT_IN,
    head_changes,
    heat_runs,
    waits,
)
from tests.pictures.picture_support import SvgPicture, has_colour, png_pixels, png_size

CATALOG = Catalog(device_dirs=[], routine_dirs=[])


def plan_for(routine: str, model: str, caps: Caps | None = None) -> Plan:
    return preflight(CATALOG.routine(routine), CATALOG.device(model), caps or Caps())


def made_plan(steps: list[dict[str, Any]], model: str) -> Plan:
    routine = Routine.model_validate(
        {
            "id": "made",
            "title": "Made here",
            "summary": "s",
            "areas": ["back"],
            "tools": ["hands"],
            "steps": steps,
        }
    )
    return preflight(routine, CATALOG.device(model), Caps())


@pytest.fixture(scope="module")
def gun() -> tuple[Plan, SvgPicture]:
    plan = plan_for("full-session-30-gun", "pulse-gun-p5")
    return plan, SvgPicture(routine_timeline(plan, fmt="svg"))


def test_one_bar_per_step_placed_at_its_time_with_its_level(gun: tuple[Plan, SvgPicture]) -> None:
    plan, svg = gun
    assert svg.numbered("step") == [s.index + 1 for s in plan.steps]
    first, last = svg.box("step-1"), svg.box(f"step-{len(plan.steps)}")
    scale = (last.right - first.left) / plan.duration_s  # points per second of routine
    baseline = first.bottom
    heights = {}
    for step in plan.steps:
        box = svg.box(f"step-{step.index + 1}")
        assert box.left == pytest.approx(first.left + step.planned_start_s * scale, abs=0.05)
        assert box.width == pytest.approx(step.duration_s * scale, abs=0.05)
        assert box.bottom == pytest.approx(baseline, abs=0.05)
        heights[step.index] = box.height
    per_level = max(heights.values()) / max(s.level or 0 for s in plan.steps)
    for step in plan.steps:
        assert heights[step.index] == pytest.approx((step.level or 0) * per_level, abs=0.05), step.title
    # the routine asks for 0.4 of the gun's 5 speeds: level 2, in six steps (two per head)
    assert sorted({s.level for s in plan.steps if s.level}) == [2]
    assert sum(1 for h in heights.values() if h > 0) == 6


def test_the_cap_line_sits_at_the_users_top_level(gun: tuple[Plan, SvgPicture]) -> None:
    plan, svg = gun
    bar = next(svg.box(f"step-{s.index + 1}") for s in plan.steps if s.level)
    per_level = bar.height / 2
    assert plan.max_level == 4  # 0.8 of 5 speeds
    assert svg.box("cap").top == pytest.approx(bar.bottom - 4 * per_level, abs=0.05)
    assert "your cap" in svg.text("cap-label")

    uncapped = SvgPicture(
        routine_timeline(plan_for("full-session-30-gun", "pulse-gun-p5", Caps(max_intensity=1.0)), fmt="svg")
    )
    assert "cap" not in uncapped.ids


def test_head_changes_and_waits_are_marked_where_their_steps_start(gun: tuple[Plan, SvgPicture]) -> None:
    plan, svg = gun
    titles = {s.index + 1: s.title for s in plan.steps}
    # the gun starts on its ball head, so only the fork and the bullet are changes
    assert [titles[n] for n in svg.numbered("head-change")] == ["Fit the fork head", "Fit the bullet head"]
    confirmed = [s.index + 1 for s in plan.steps if s.confirm]
    assert svg.numbered("confirm") == confirmed
    assert len(confirmed) == 10
    for n in svg.numbered("head-change") + svg.numbered("confirm"):
        prefix = "head-change" if n in svg.numbered("head-change") else "confirm"
        assert svg.box(f"{prefix}-{n}").left == pytest.approx(svg.box(f"step-{n}").left, abs=0.05)
    legend = svg.text()
    for label in ("Large ball", "Fork", "Bullet", "head change", "waits for you"):
        assert label in legend
    assert "Flat dampener" not in legend  # only the heads the routine uses


def test_one_prompt_bar_per_prompt_step(gun: tuple[Plan, SvgPicture]) -> None:
    plan, svg = gun
    assert svg.numbered("prompt") == [s.index + 1 for s in plan.steps if s.prompt]
    for n in svg.numbered("prompt"):
        prompt, step = svg.box(f"prompt-{n}"), svg.box(f"step-{n}")
        assert (prompt.left, prompt.right) == pytest.approx((step.left, step.right), abs=0.05)


def test_titles_name_the_routine_the_model_and_its_length(gun: tuple[Plan, SvgPicture]) -> None:
    _, svg = gun
    text = svg.text()
    assert "30-minute back session with a massage gun" in text
    assert "Pulse P5 massage gun · 30:00" in text
    assert "no heater" in text
    assert "heat-1" not in svg.ids


def test_a_heat_span_covers_the_heated_steps() -> None:
    plan = plan_for("lower-back-heat-cushion", "shiatsu-cushion-s3")
    svg = SvgPicture(routine_timeline(plan, fmt="svg"))
    heated = [s for s in plan.steps if s.heat]
    assert len(heated) == 5
    assert svg.numbered("heat") == [1]
    span = svg.box("heat-1")
    assert span.left == pytest.approx(svg.box(f"step-{heated[0].index + 1}").left, abs=0.05)
    assert span.right == pytest.approx(svg.box(f"step-{heated[-1].index + 1}").right, abs=0.05)
    assert svg.text("heat-label-1") == "low 10:00"
    # zones move by command: the first is a zone change from the cushion's full-back default
    assert svg.numbered("head-change") == [1]
    assert "zone change" in svg.text()


def test_heat_runs_split_where_the_level_changes() -> None:
    plan = made_plan(
        [
            {"title": "a", "duration": 60, "device": {"heat": "low"}},
            {"title": "b", "duration": 60, "prompt": {"text": "rest"}},
            {"title": "c", "duration": 120, "device": {"heat": "high"}},
            {"title": "d", "duration": 60, "device": {"heat": "off"}},
            {"title": "e", "duration": 30, "device": {"heat": "low"}},
        ],
        "serial-cushion-z3",
    )
    runs = [(r.start_s, r.end_s, r.name) for r in heat_runs(plan)]
    assert runs == [(0, 120, "low"), (120, 240, "high"), (300, 330, "low")]
    svg = SvgPicture(routine_timeline(plan, fmt="svg"))
    assert svg.numbered("heat") == [1, 2, 3]
    assert svg.box("heat-2").width == pytest.approx(svg.box("heat-1").width, abs=0.05)
    assert svg.box("heat-3").width == pytest.approx(svg.box("heat-1").width / 4, abs=0.05)


def test_a_manual_head_change_waits_even_without_confirm() -> None:
    plan = made_plan(
        [
            {"title": "ball", "duration": 60, "device": {"head": "ball", "intensity": 1}},
            {"title": "fork", "duration": 60, "device": {"head": "fork", "intensity": 1}},
            {"title": "fork again", "duration": 60, "device": {"head": "fork", "intensity": 2}},
        ],
        "pulse-gun-p5",
    )
    assert [s.title for s in head_changes(plan)] == ["fork"]
    assert [s.title for s in waits(plan)] == ["fork"]


def test_a_routine_without_the_device_says_the_device_is_idle() -> None:
    svg = SvgPicture(routine_timeline(plan_for("upper-back-hands", "serial-cushion-z3"), fmt="svg"))
    assert "device idle" in svg.text("idle")
    assert "no heat" in svg.text("no-heat")


def test_png_is_a_phone_sized_picture_in_the_routines_colours() -> None:
    plan = plan_for("zone-cushion-back-tour", "serial-cushion-z3")
    data = routine_timeline(plan, fmt="png")
    assert png_size(data) == (round(WIDTH_IN * PNG_DPI), round(HEIGHT_IN * PNG_DPI))
    pixels = png_pixels(data)
    assert pixels.std() > 20  # not a blank page
    # each zone's bars and the low-heat span show in their colours; high heat is not used
    for colour in HEAD_COLOURS[:3] + HEAT_COLOURS[:1]:
        assert has_colour(pixels, colour, at_least=500), colour
    assert not has_colour(pixels, HEAT_COLOURS[-1], at_least=1)


def test_the_same_plan_draws_the_same_svg() -> None:
    plan = plan_for("desk-break", "pulse-gun-p5")
    assert routine_timeline(plan, fmt="svg") == routine_timeline(plan, fmt="svg")


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'massager-ctl\[pictures\]'"):
        routine_timeline(plan_for("desk-break", "pulse-gun-p5"), fmt="png")
