"""Hostile catalog files are refused as one located problem, in bounded memory, never a crash or a hang."""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.catalog import Catalog, builtin_dir, load_routine
from massager_ctl.errors import CatalogError, Problem
from massager_ctl.models.routine import MAX_PLANNED_STEPS, MAX_ROUTINE_S
from tests.foundation.hostile import CASES, HEAD, STEP, STEPS, Hostile, alias_bomb, nested_rounds

#: "A few MB": a valid file at the value limit peaks near 3 MiB; the bombs stay well under this.
PEAK_BYTES = 4 * 2**20
BY_NAME = {case.name: case for case in CASES}


def only_problem(load: Callable[[], object]) -> Problem:
    with pytest.raises(CatalogError) as info:
        load()
    [problem] = info.value.problems
    return problem


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_class_is_one_located_problem(tmp_path: Path, case: Hostile) -> None:
    path = case.write(tmp_path)
    problem = only_problem(lambda: load_routine(path))
    assert str(problem).startswith(case.located(path))
    assert case.message in problem.message


@pytest.fixture
def peak_memory() -> Iterator[Callable[[], int]]:
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(alias_bomb(9, 6), id="billion-laughs"),  # 9**6 values: the old loader fails in seconds
        pytest.param(nested_rounds(7, 20), id="seven-nested-rounds-of-20"),
        pytest.param(BY_NAME["recursive-alias"].text, id="recursive-alias"),
        pytest.param(BY_NAME["deep-flow"].text, id="deep-flow"),
        pytest.param(BY_NAME["too-many-values"].text, id="too-many-values"),
    ],
)
def test_bombs_are_refused_in_a_few_megabytes(
    tmp_path: Path, peak_memory: Callable[[], int], text: str
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    tracemalloc.reset_peak()
    with pytest.raises(CatalogError):
        load_routine(path)
    assert peak_memory() < PEAK_BYTES


def test_a_huge_file_is_refused_unread(tmp_path: Path, peak_memory: Callable[[], int]) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.write((HEAD + STEPS).encode())
        f.truncate(50 * 2**20)  # sparse: 50 MB on paper, nothing written
    tracemalloc.reset_peak()
    problem = only_problem(lambda: load_routine(path))
    assert str(problem) == f"{path}:1: file: the file is 52,428,800 bytes, more than the limit of 256 KiB"
    assert peak_memory() < PEAK_BYTES


def test_a_directory_named_like_a_routine_file_is_said_to_be_one(tmp_path: Path) -> None:
    folder = tmp_path / "mine.yaml"
    folder.mkdir()
    problem = only_problem(lambda: Catalog().routine(str(folder)))
    assert str(problem) == f"{folder}:1: file: is a directory, not a YAML file"


def test_a_fifo_is_refused_without_blocking_on_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    problems: list[Problem] = []

    def load() -> None:
        try:
            load_routine(fifo)
        except CatalogError as e:
            problems.extend(e.problems)

    # a loader that opens the FIFO blocks until a writer comes: a thread turns that hang into a failure
    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    loader.join(timeout=30)
    try:
        assert not loader.is_alive(), "the loader blocked opening a FIFO"
    finally:
        with contextlib.suppress(OSError):  # no reader waiting: nothing to release
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert [str(p) for p in problems] == [f"{fifo}:1: file: is not a regular file"]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("ack_timeout_s: 0.5", "ack_timeout_s: .inf", "protocol.ack_timeout_s: Input should be a finite"),
        ("keepalive_s: 1.0", "keepalive_s: .nan", "watchdog.keepalive_s: Input should be a finite"),
        ("[0, 38, 44]", "[0, .nan, 44]", "heat.target_c.1: Input should be a finite"),
        (
            "write_timeout_s: 1.0",
            "write_timeout_s: -.inf",
            "serial.write_timeout_s: Input should be a finite",
        ),
        ("modes: [vibration,", "modes: &m [*m,", "modes.0: an alias refers to a value that contains it"),
        ("battery: false", "battery: " + "[" * 10_000 + "]" * 10_000, "yaml: nested more than 32"),
    ],
    ids=[
        "inf-ack-timeout",
        "nan-keepalive",
        "nan-temperature",
        "minus-inf-timeout",
        "recursive-alias",
        "deep",
    ],
)
def test_device_catalog_is_bounded_and_finite_too(tmp_path: Path, old: str, new: str, problem: str) -> None:
    text = (builtin_dir("devices") / "serial-cushion-z3.yaml").read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new)
    line = text[: text.index(new)].count("\n") + 1
    path = tmp_path / "serial-cushion-z3.yaml"
    path.write_text(text, encoding="utf-8")
    found = only_problem(lambda: Catalog(device_dirs=[tmp_path]).devices())
    assert str(found).startswith(f"{path}:{line}: {problem}")


def _yaml_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


@st.composite
def hostile_texts(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["flow", "block", "bomb", "rounds"]))
    if shape == "flow":
        depth = draw(st.integers(1, 3_000))
        return HEAD + "steps: " + "[" * depth + STEP + "]" * depth + "\n"
    if shape == "block":
        return HEAD + "steps:\n  " + "- " * draw(st.integers(1, 3_000)) + STEP + "\n"
    if shape == "bomb":  # at most 9**6 values: the old loader expands that in seconds, not minutes
        return alias_bomb(draw(st.integers(1, 9)), draw(st.integers(1, 6)))
    duration = _yaml_float(draw(st.floats(allow_nan=True, allow_infinity=True)))
    return nested_rounds(draw(st.integers(0, 8)), draw(st.integers(1, 20)), duration)


@settings(max_examples=60, deadline=None)
@given(hostile_texts())
def test_hostile_shapes_load_bounded_or_give_located_problems(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("hostile") / "r.yaml"
    path.write_text(text, encoding="utf-8")
    problems: list[Problem] = []
    tracemalloc.start()
    try:
        plan = load_routine(path).plan()
    except CatalogError as e:
        problems = e.problems
    else:
        assert len(plan) <= MAX_PLANNED_STEPS
        assert all(math.isfinite(step.duration_s) for step in plan)
        assert sum(step.duration_s for step in plan) <= MAX_ROUTINE_S
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_BYTES
    for problem in problems:
        assert problem.file == str(path)
        assert 1 <= problem.line <= text.count("\n") + 1
        assert problem.message


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "massager_ctl", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env.pop("MASSAGER_CONFIG", None)
    return env


@pytest.mark.slow
def test_validate_locates_every_class_in_one_run(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    paths = [case.write(tmp_path) for case in CASES]
    result = cli("routines", "validate", *map(str, paths), env=isolated_env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == len(CASES)
    for case, path, line in zip(CASES, paths, lines, strict=True):
        assert line.startswith(case.located(path))
        assert case.message in line


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_simulate_refuses_each_class_located(
    tmp_path: Path, isolated_env: dict[str, str], case: Hostile
) -> None:
    path = case.write(tmp_path)
    result = cli("simulate", str(path), "--model", "serial-cushion-z3", env=isolated_env)
    assert result.returncode == 2
    assert result.stderr.startswith(case.located(path))
    assert case.message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["routines", "validate"],
        ["routines", "check", "--model", "serial-cushion-z3"],
        ["simulate", "--model", "serial-cushion-z3"],
    ],
    ids=["validate", "check", "simulate"],
)
def test_cli_says_a_directory_is_a_directory(
    tmp_path: Path, isolated_env: dict[str, str], command: list[str]
) -> None:
    folder = tmp_path / "mine.yaml"
    folder.mkdir()
    result = cli(*command, str(folder), env=isolated_env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"{folder}:1: file: is a directory, not a YAML file"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nan-duration", "nested-rounds", "too-big"])
def test_check_refuses_located(tmp_path: Path, isolated_env: dict[str, str], name: str) -> None:
    case = BY_NAME[name]
    path = case.write(tmp_path)
    result = cli("routines", "check", str(path), "--model", "serial-cushion-z3", env=isolated_env)
    assert result.returncode == 2
    assert result.stderr.startswith(case.located(path))
    assert "Traceback" not in result.stderr
