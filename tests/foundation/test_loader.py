"""Routine and device files: every problem located as FILE:LINE: field: message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.catalog import builtin_dir, load_device, load_routine
from massager_ctl.catalog.yamlsource import load_yaml
from massager_ctl.errors import CatalogError, Problem
from massager_ctl.models.routine import parse_duration
from tests.examples import examples

GOOD = """\
id: good
title: Good
summary: A valid routine.
areas: [upper-back]
tools: [hands]
steps:
  - title: Warm up
    duration: 1m
    prompt: {text: Stroke the shoulders.}
  - repeat: {sides: [left, right]}
    steps:
      - title: Knead {side}
        duration: 90s
        prompt:
          text: Knead the {side} upper trapezius.
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routine.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_routine(path)
    return [str(p) for p in info.value.problems]


def test_valid_routine_expands_sides_and_times(tmp_path: Path) -> None:
    routine = load_routine(write(tmp_path, GOOD))
    plan = routine.plan()
    assert [s.title for s in plan] == ["Warm up", "Knead left", "Knead right"]
    assert [s.planned_start_s for s in plan] == [0.0, 60.0, 150.0]
    assert plan[2].prompt is not None
    assert plan[2].prompt.text == "Knead the right upper trapezius."
    assert plan[2].prompt.side == "right"
    assert routine.duration_s == 240.0


def test_bad_value_names_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("duration: 1m", "duration: soon"))
    assert problems_of(path) == [
        f"{path}:8: steps.0.duration: 'soon' is not a duration: "
        "use seconds (90) or a string like '90s', '2m', '1m30s'"
    ]


def test_missing_field_points_at_its_parent(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    duration: 1m\n", ""))
    assert problems_of(path) == [f"{path}:7: steps.0.duration: Field required"]


def test_unknown_key_is_reported_on_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("tools: [hands]", "tools: [hands]\ncolour: blue"))
    assert problems_of(path) == [f"{path}:6: colour: Extra inputs are not permitted"]


def test_duplicate_key_is_reported_with_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("title: Good", "title: Good\ntitle: Again"))
    assert problems_of(path) == [f"{path}:3: title: duplicate key (first given on line 2)"]


def test_broken_yaml_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("areas: [upper-back]", "areas: [upper-back"))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:5: yaml: ")


def test_every_problem_in_one_pass_sorted_by_line(tmp_path: Path) -> None:
    text = GOOD.replace("duration: 90s", "duration: 90s\n        device: {intensity: 1.5}")
    text = text.replace("tools: [hands]", "tools: [hands, spoon]")
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}:5: tools.1: Input should be")
    assert problems[1] == (
        f"{path}:14: steps.1.steps.0.device.intensity: 1.5 is not an intensity: "
        "use a level (a whole number 0–100) or a fraction from 0.0 to 1.0"
    )


def test_intensity_int_is_a_level_and_float_a_fraction(tmp_path: Path) -> None:
    text = GOOD.replace("duration: 90s", "duration: 90s\n        device: {intensity: 3}")
    text = text.replace("duration: 1m", "duration: 1m\n    device: {intensity: 0.5}")
    plan = load_routine(write(tmp_path, text)).plan()
    assert plan[0].device is not None
    assert isinstance(plan[0].device.intensity, float)
    assert plan[1].device is not None
    assert plan[1].device.intensity == 3
    assert isinstance(plan[1].device.intensity, int)


def test_step_that_does_nothing_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    prompt: {text: Stroke the shoulders.}\n", ""))
    assert problems_of(path) == [f"{path}:7: steps.0: a step needs device settings, a prompt, or both"]


def test_repeat_needs_one_kind(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("{sides: [left, right]}", "{sides: [left], rounds: 2}"))
    assert problems_of(path) == [
        f"{path}:10: steps.1.repeat: repeat needs exactly one of 'sides' or 'rounds'"
    ]


def test_rounds_fill_round_number(tmp_path: Path) -> None:
    text = GOOD.replace("{sides: [left, right]}", "{rounds: 2}").replace("Knead {side}", "Round {round}")
    plan = load_routine(write(tmp_path, text)).plan()
    assert [s.title for s in plan] == ["Warm up", "Round 1", "Round 2"]
    assert [s.round for s in plan] == [None, 1, 2]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("90s", 90.0), ("2m", 120.0), ("1m30s", 90.0), ("1h", 3600.0), (" 45s ", 45.0)],
)
def test_duration_forms(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "2 minutes", "-5", 0, -1, True, "1s2m", None])
def test_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_device_file_errors_are_located(tmp_path: Path) -> None:
    path = tmp_path / "dev.yaml"
    path.write_text("id: x\nname: X\nmaker: m\ntransport: usb\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_device(path)
    rendered = [str(p) for p in info.value.problems]
    assert f"{path}:4: transport: Input should be 'ble', 'serial' or 'none'" in rendered
    assert f"{path}:1: protocol: Field required" in rendered


yaml_fragments = st.sampled_from(
    [
        "id: a",
        "title: t",
        "steps:",
        "  - title: x",
        "    duration: 2m",
        "    duration: [",
        "tools: [hands]",
        "areas: [a]",
        "summary: s",
        "  - repeat: {rounds: 2}",
        "    steps:",
        "    prompt: {text: hi}",
        ": :",
        "- -",
        "\t",
        "'",
        "&a x",
        "*a",
        "!!python/object:os.system x",
        "{",
        "key: value: other",
        "title: t",
    ]
)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(yaml_fragments, max_size=14))
def test_any_text_loads_or_gives_located_problems(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "r.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    problems: list[Problem] = []
    try:
        load_routine(path)
    except CatalogError as e:
        problems = e.problems
        assert problems
    for problem in problems:
        assert problem.file == str(path)
        assert problem.line >= 1
        assert problem.message


def _outcome(text: str, *, libyaml: bool) -> object:
    try:
        return load_yaml(text, "r.yaml", libyaml=libyaml)
    except CatalogError as e:
        return e.problems


def test_libyaml_reads_every_shipped_file_as_the_python_parser_does() -> None:
    paths = sorted([*builtin_dir("devices").glob("*.yaml"), *builtin_dir("routines").glob("*.yaml")])
    assert len(paths) > 20
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert load_yaml(text, path.name) == load_yaml(text, path.name, libyaml=False), path.name


#: where libyaml and PyYAML part: tabs, empty values (placed on other lines), byte-order marks,
#: explicit keys in flow, empty tagged values, a block scalar's header running into a comment
parser_edges = st.sampled_from(
    ["---", "-", "- ", "a:", "? k", "k: [a?\n]", "- !x", "a: |#", "%YAML 1.1", "\t- x", "\ufeffa: b"]
)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(yaml_fragments, parser_edges), max_size=14), st.sampled_from(["\n", "\r\n"]))
def test_libyaml_and_the_python_parser_give_the_same_data_lines_and_problems(
    lines: list[str], newline: str
) -> None:
    text = newline.join(lines)
    assert _outcome(text, libyaml=True) == _outcome(text, libyaml=False)
