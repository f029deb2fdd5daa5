"""Settings from config.toml and MASSAGER_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from massager_ctl.config import Origin, load_settings, setting_origins
from massager_ctl.errors import ConfigError


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("MASSAGER_CONFIG", str(config))
    for name in ("MASSAGER_CAPS__MAX_INTENSITY", "MASSAGER_MQTT_URL", "MASSAGER_MQTT_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return config


def test_defaults_are_conservative() -> None:
    settings = load_settings()
    assert settings.caps.max_intensity == 0.8
    assert settings.caps.heat_allowed is True
    assert settings.caps.max_session_minutes == 45.0
    assert settings.default_device.startswith("sim://")


def test_file_then_environment(no_user_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_user_config.write_text(
        'default_device = "serial:///dev/ttyUSB0?model=serial-cushion-z3"\n'
        'mqtt_url = "mqtt://me@127.0.0.1:1883"\n'
        "[caps]\nmax_intensity = 0.5\nheat_allowed = false\n"
    )
    monkeypatch.setenv("MASSAGER_CAPS__MAX_INTENSITY", "0.4")
    monkeypatch.setenv("MASSAGER_MQTT_PASSWORD", "hunter2")
    settings = load_settings()
    assert settings.default_device == "serial:///dev/ttyUSB0?model=serial-cushion-z3"
    assert settings.caps.max_intensity == 0.4
    assert settings.caps.heat_allowed is False
    assert settings.mqtt_password is not None
    assert settings.mqtt_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_bad_file_is_a_config_error(no_user_config: Path) -> None:
    no_user_config.write_text("[caps\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings()


def test_bad_value_names_the_field(no_user_config: Path) -> None:
    no_user_config.write_text("[caps]\nmax_intensity = 3\n")
    with pytest.raises(ConfigError, match=r"caps\.max_intensity"):
        load_settings()


@pytest.mark.parametrize("value", ["nan", "inf", "1e9"])
def test_a_session_cap_must_be_a_finite_day_at_most(no_user_config: Path, value: str) -> None:
    # TOML's nan and inf are floats: an endless cap would be no cap at all
    no_user_config.write_text(f"[caps]\nmax_session_minutes = {value}\n")
    with pytest.raises(ConfigError, match=r"caps\.max_session_minutes"):
        load_settings()


def test_folders_follow_the_platform_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    settings = load_settings()
    assert settings.user_routines_dir == tmp_path / "cfg" / "massager-ctl" / "routines"
    assert settings.user_devices_dir == tmp_path / "cfg" / "massager-ctl" / "devices"
    assert settings.journal_path == tmp_path / "share" / "massager-ctl" / "journal.sqlite3"


def test_origins_flag_over_env_over_file_over_default(
    no_user_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_user_config.write_text(
        'mqtt_url = "mqtt://me@127.0.0.1"\nroutines_dir = "/from/file"\n[caps]\nmax_intensity = 0.5\n'
    )
    monkeypatch.setenv("MASSAGER_CAPS__MAX_INTENSITY", "0.4")
    flags = {"routines_dir": Path("/from/flag")}
    settings = load_settings(flags=flags)
    origins = setting_origins(flags=flags)
    assert settings.caps.max_intensity == 0.4
    assert origins["caps.max_intensity"] == Origin("env", "MASSAGER_CAPS__MAX_INTENSITY")
    assert settings.user_routines_dir == Path("/from/flag")
    assert origins["routines_dir"] == Origin("flag", "--routines-dir")
    assert origins["mqtt_url"] == Origin("file", str(no_user_config))
    assert origins["caps.heat_allowed"] == Origin("default")
    assert set(origins) >= {"caps.max_session_minutes", "default_device", "mqtt_password", "data_dir"}
