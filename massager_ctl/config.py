"""User settings: caps, catalog folders, default device and MQTT broker.

Read from ``~/.config/massager-ctl/config.toml`` (or ``$MASSAGER_CONFIG``) and
``MASSAGER_*`` environment variables, which win. Nested fields use ``__``:
``MASSAGER_CAPS__MAX_INTENSITY=0.6``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from massager_ctl.errors import ConfigError


def config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "massager-ctl"


def data_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "massager-ctl"


def config_file() -> Path:
    return Path(os.environ.get("MASSAGER_CONFIG") or config_home() / "config.toml")


class Caps(BaseModel):
    """Limits applied to every routine, whatever the routine asks for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_intensity: float = Field(
        0.8, gt=0.0, le=1.0, description="Highest intensity as a fraction of the model's range."
    )
    heat_allowed: bool = True
    max_session_minutes: float = Field(45.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MASSAGER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    caps: Caps = Caps()
    config_dir: Path = Field(default_factory=config_home)
    data_dir: Path = Field(default_factory=data_home)
    devices_dir: Path | None = Field(None, description="User device models; default CONFIG_DIR/devices.")
    routines_dir: Path | None = Field(None, description="User routines; default CONFIG_DIR/routines.")
    default_device: str = "sim://pulse-gun-p5"
    mqtt_url: str | None = None
    mqtt_password: SecretStr | None = None

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


def load_settings() -> Settings:
    """Read the settings.

    Raises:
        ConfigError: the config file or an environment variable is invalid.
    """
    try:
        return Settings()
    except ValidationError as e:
        lines = [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors(include_url=False)
        ]
        raise ConfigError(
            f"invalid settings (from {config_file()} or MASSAGER_* variables):\n" + "\n".join(lines)
        ) from e
    except (OSError, ValueError) as e:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read {config_file()}: {e}") from e
