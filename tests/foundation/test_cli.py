"""The catalog commands as a user runs them: a real process, its output and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from massager_ctl import __version__

pytestmark = pytest.mark.slow  # each test runs massager-ctl as a process

HEAD = "title: T\nsummary: s\nareas: [a]\ntools: [hands]\n"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "massager_ctl", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """No user config from the machine running the tests."""
    import os

    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env.pop("MASSAGER_CONFIG", None)
    return env


def test_version(isolated_env: dict[str, str]) -> None:
    result = cli("--version", env=isolated_env)
    assert result.returncode == 0
    assert result.stdout.strip() == f"massager-ctl {__version__}"


def test_devices_list_json(isolated_env: dict[str, str]) -> None:
    result = cli("devices", "list", "--json", env=isolated_env)
    assert result.returncode == 0, result.stderr
    devices = {d["id"]: d for d in json.loads(result.stdout)}
    gun = devices["pulse-gun-p5"]
    assert gun["transport"] == "ble"
    assert gun["protocol"] == "mbin"
    assert [h["kind"] for h in gun["heads"]] == ["ball", "flat", "fork", "bullet", "wedge", "cushion"]
    assert {h["change"] for h in gun["heads"]} == {"manual"}
    assert gun["intensity"]["max_level"] == 5
    assert gun["heat"] is None
    cushion = devices["serial-cushion-z3"]
    assert cushion["transport"] == "serial"
    assert cushion["heat"]["max_on_s"] == 1200
    assert {h["change"] for h in cushion["heads"]} == {"motorized"}


def test_routines_list_json(isolated_env: dict[str, str]) -> None:
    result = cli("routines", "list", "--json", env=isolated_env)
    assert result.returncode == 0, result.stderr
    routines = json.loads(result.stdout)
    assert len(routines) >= 10
    for routine in routines:
        assert {"id", "title", "duration_s", "areas", "tools"} <= routine.keys()
        assert routine["duration_s"] > 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "steps:\n  - {title: a, duration: soon, prompt: {text: x}}\n",
            ":7: steps.0.duration: 'soon' is not",
        ),
        ("steps:\n  - {title: a, prompt: {text: x}}\n", ":7: steps.0.duration: Field required"),
        ("colour: red\nsteps:\n  - {title: a, duration: 5, prompt: {text: x}}\n", ":6: colour: Extra inputs"),
        (
            "title: twice\nsteps:\n  - {title: a, duration: 5, prompt: {text: x}}\n",
            ":6: title: duplicate key",
        ),
        ("steps:\n  - {title: a, duration: 5, prompt: {text: x}\n", ":8: yaml: "),
    ],
    ids=["bad value", "missing field", "unknown key", "duplicate key", "broken yaml"],
)
def test_validate_reports_file_line_field(
    tmp_path: Path, isolated_env: dict[str, str], body: str, expected: str
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("id: r\ntitle: R\nsummary: s\nareas: [a]\ntools: [hands]\n" + body, encoding="utf-8")
    result = cli("routines", "validate", str(path), env=isolated_env)
    assert result.returncode == 2
    assert f"{path}{expected}" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_ok_and_bad_together(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("id: good\n" + HEAD + "steps:\n  - {title: a, duration: 2m, prompt: {text: x}}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\n")
    result = cli("routines", "validate", str(good), str(bad), env=isolated_env)
    assert result.returncode == 2
    assert f"{good}: ok (good, 1 steps, 2:00)" in result.stdout
    assert f"{bad}:1: title: Field required" in result.stderr


def test_unknown_routine_is_bad_input(isolated_env: dict[str, str]) -> None:
    result = cli("routines", "show", "no-such-routine", env=isolated_env)
    assert result.returncode == 2
    assert "unknown routine 'no-such-routine'" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_routine_dir_from_environment(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "x.yaml").write_text(
        "id: my-own\n" + HEAD + "steps:\n  - {title: a, duration: 30, prompt: {text: x}}\n"
    )
    result = cli("routines", "list", "--json", env={**isolated_env, "MASSAGER_ROUTINES_DIR": str(mine)})
    assert result.returncode == 0, result.stderr
    assert "my-own" in {r["id"] for r in json.loads(result.stdout)}


def test_invalid_setting_is_bad_input(isolated_env: dict[str, str]) -> None:
    result = cli("devices", "list", env={**isolated_env, "MASSAGER_CAPS__MAX_INTENSITY": "2"})
    assert result.returncode == 2
    assert "caps.max_intensity" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_is_json_schema(isolated_env: dict[str, str]) -> None:
    result = cli("routines", "schema", env=isolated_env)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert {"id", "title", "steps"} <= set(schema["required"])
