"""``massager-ctl config``: the effective settings and where each came from, never the password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.foundation.cli_support import Cli

SECRET = "hunter2-Secret"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "massager-ctl" / "config.toml"
    path.parent.mkdir(parents=True)
    return path


def test_config_shows_each_value_and_its_origin(
    cli: Cli, config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text(
        f'mqtt_url = "mqtt://me:{SECRET}@127.0.0.1:1884"\n'
        'default_device = "serial:///dev/ttyUSB0?model=serial-cushion-z3"\n'
        "[caps]\nmax_intensity = 0.5\n"
    )
    monkeypatch.setenv("MASSAGER_CAPS__HEAT_ALLOWED", "false")
    monkeypatch.setenv("MASSAGER_MQTT_PASSWORD", SECRET)
    mine = tmp_path / "mine"
    result = cli("--routines-dir", str(mine), "config", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["config_file"] == {"path": str(config_file), "exists": True}
    shown = report["settings"]
    assert shown["caps.max_intensity"] == {"value": 0.5, "from": "file", "source": str(config_file)}
    assert shown["caps.heat_allowed"] == {
        "value": False,
        "from": "env",
        "source": "MASSAGER_CAPS__HEAT_ALLOWED",
    }
    assert shown["caps.max_session_minutes"] == {"value": 45.0, "from": "default", "source": ""}
    assert shown["routines_dir"] == {"value": str(mine), "from": "flag", "source": "--routines-dir"}
    assert shown["devices_dir"]["value"] == str(tmp_path / "config" / "massager-ctl" / "devices")
    assert shown["default_device"]["value"] == "serial:///dev/ttyUSB0?model=serial-cushion-z3"
    assert shown["mqtt_url"]["value"] == "mqtt://me:***@127.0.0.1:1884"
    assert shown["mqtt_password"] == {"value": "(set)", "from": "env", "source": "MASSAGER_MQTT_PASSWORD"}
    text = cli("--routines-dir", str(mine), "config")
    assert text.code == 0, text.err
    assert SECRET not in result.out + text.out + text.err
    line = next(line for line in text.out.splitlines() if line.split()[0] == "caps.max_intensity")
    assert line.split()[1:] == ["0.5", "file", str(config_file)]
    assert f"config file: {config_file}" in text.out


def test_config_reports_a_bad_value_as_bad_input(cli: Cli, config_file: Path) -> None:
    config_file.write_text("[caps]\nmax_intensity = 3\n")
    result = cli("config")
    assert result.code == 2
    assert "caps.max_intensity" in result.err
