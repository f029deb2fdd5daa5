"""User settings: caps, catalog folders, default device and MQTT broker.

One path for every setting: command-line flags win over ``MASSAGER_*``
environment variables, which win over ``config.toml`` (in the user config
folder, or the file named by ``$MASSAGER_CONFIG``), which wins over the
defaults here. Nested fields use ``__``: ``MASSAGER_CAPS__MAX_INTENSITY=0.6``.
Folders come from platformdirs (``~/.config/massager-ctl`` and
``~/.local/share/massager-ctl`` on Linux, honouring ``XDG_*``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from massager_ctl.errors import ConfigError

APP_NAME = "massager-ctl"
ENV_PREFIX = "MASSAGER_"
CONFIG_FILE_ENV = "MASSAGER_CONFIG"


def config_home() -> Path:
    return platformdirs.user_config_path(APP_NAME)


def data_home() -> Path:
    return platformdirs.user_data_path(APP_NAME)


def config_file() -> Path:
    return Path(os.environ.get(CONFIG_FILE_ENV) or config_home() / "config.toml")


class Caps(BaseModel):
    """Limits applied to every routine, whatever the routine asks for."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_intensity: float = Field(
        0.8, gt=0.0, le=1.0, description="Highest intensity as a fraction of the model's range."
    )
    heat_allowed: bool = True
    max_session_minutes: float = Field(45.0, gt=0, le=24 * 60)


class ServedDevice(BaseModel):
    """One device ``serve`` keeps, from a ``[[devices]]`` table of ``config.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1, description="Device URL, e.g. ble://ADDR?model=MODEL.")
    id: str | None = Field(None, description="Device id in topics (default: model + address).")
    name: str | None = Field(None, description="Name shown in Home Assistant (default: the model's).")
    routine: str | None = Field(None, description="Routine a start command without one runs.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    caps: Caps = Caps()
    config_dir: Path = Field(default_factory=config_home)
    data_dir: Path = Field(default_factory=data_home)
    devices_dir: Path | None = Field(None, description="User device models; default CONFIG_DIR/devices.")
    routines_dir: Path | None = Field(None, description="User routines; default CONFIG_DIR/routines.")
    default_device: str = Field(
        "", description="The device URL run uses without --device; empty: no device (prompt-only routines)."
    )
    mqtt_url: str | None = None
    mqtt_password: SecretStr | None = None
    controller_id: str | None = Field(
        None, description="Names this controller on the broker (serve); default: the host name."
    )
    devices: list[ServedDevice] = Field(
        default_factory=list, description="Devices serve keeps when no --device is given."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))

    @property
    def user_devices_dir(self) -> Path:
        return self.devices_dir or self.config_dir / "devices"

    @property
    def user_routines_dir(self) -> Path:
        return self.routines_dir or self.config_dir / "routines"

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.sqlite3"


def load_settings(*, flags: Mapping[str, Any] | None = None) -> Settings:
    """Read the settings; ``flags`` are values given on the command line (they win).

    Raises:
        ConfigError: the config file, an environment variable or a flag is invalid.
    """
    try:
        return Settings(**dict(flags or {}))
    except ValidationError as e:
        lines = [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors(include_url=False)
        ]
        raise ConfigError(
            f"invalid settings (from {config_file()} or MASSAGER_* variables):\n" + "\n".join(lines)
        ) from e
    except (OSError, ValueError) as e:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read {config_file()}: {e}") from e


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one effective setting came from: ``kind`` is default, file, env or flag."""

    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}".strip()


def setting_origins(*, flags: Mapping[str, Any] | None = None) -> dict[str, Origin]:
    """The origin of every setting, by dotted name (``caps.max_intensity``), highest source first.

    Derived cheaply from the same sources :class:`Settings` reads, so it agrees with
    :func:`load_settings` (call that first: it reports invalid values).

    Raises:
        ConfigError: the config file cannot be read.
    """
    try:
        from_file = dict(TomlConfigSettingsSource(Settings, toml_file=config_file())())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {config_file()}: {e}") from e
    from_env = dict(EnvSettingsSource(Settings)())
    from_flags = dict(InitSettingsSource(Settings, init_kwargs=dict(flags or {}))())
    origins = {name: Origin("default") for name in _names(Settings.model_fields, Caps.model_fields)}
    for name in _leaves(from_file):
        origins[name] = Origin("file", str(config_file()))
    for name in _leaves(from_env):
        origins[name] = Origin("env", ENV_PREFIX + name.replace(".", "__").upper())
    for name in _leaves(from_flags):
        origins[name] = Origin("flag", "--" + name.replace("_", "-"))
    return origins


def _names(fields: Mapping[str, Any], caps_fields: Mapping[str, Any]) -> Iterator[str]:
    for name in fields:
        if name == "caps":
            yield from (f"caps.{sub}" for sub in caps_fields)
        else:
            yield name


def _leaves(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"
