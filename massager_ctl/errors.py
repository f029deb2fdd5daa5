"""The project's one error tree.

Every failure the controller can report derives from :class:`MassagerError`.
Foreign exceptions (``BleakError``, ``SerialException``, ``OSError``,
``pydantic.ValidationError``, ``yaml.YAMLError``) are translated where they
enter the project, with ``raise ... from e``, so callers only ever catch these::

    MassagerError
    ├── ConfigError                 bad settings, bad URL, unknown model
    ├── CatalogError                a device or routine file is invalid
    │   └── (carries .problems: list[Problem] with file, line, field, message)
    ├── PreflightError              a routine does not fit a model or the user's caps
    └── DeviceError                 anything on the way to or from a device
        ├── ConnectError            could not open the link
        │   └── DeviceNotFoundError nothing answered at that address
        ├── LinkLostError           the link dropped while in use
        ├── CommandTimeoutError     no ack after every retry
        ├── ProtocolError           a malformed or unexpected frame
        └── DeviceRefusedError      the device answered with an error code
    BrokerError                     the MQTT broker could not be reached or refused us
    └── BrokerAuthError             the broker rejected the username or password
    VoiceError                      the speech engine failed to synthesise a spoken cue
"""

from __future__ import annotations

from dataclasses import dataclass


class MassagerError(Exception):
    """Base class of every error massager-ctl raises on purpose."""


class ConfigError(MassagerError):
    """A setting, device URL or model id is not valid."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a catalog file, located by file and line."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class CatalogError(MassagerError):
    """A device or routine file failed to load; ``problems`` lists every issue."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class PreflightError(MassagerError):
    """A routine cannot run on a model within the user's caps."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class DeviceError(MassagerError):
    """Something failed on the way to or from a device."""


class ConnectError(DeviceError):
    """The link to the device could not be opened."""


class DeviceNotFoundError(ConnectError):
    """Nothing answered at the given address."""


class LinkLostError(DeviceError):
    """The link dropped while the device was in use."""


class CommandTimeoutError(DeviceError):
    """The device did not acknowledge a command after every retry."""


class ProtocolError(DeviceError):
    """A frame was malformed, failed its checksum or made no sense here."""


class DeviceRefusedError(DeviceError):
    """The device answered a command with an error code."""

    def __init__(self, message: str, *, code: str) -> None:
        self.code = code
        super().__init__(message)


class BrokerError(MassagerError):
    """The MQTT broker could not be reached, or dropped or refused the connection."""


class BrokerAuthError(BrokerError):
    """The MQTT broker rejected the username or password."""


class VoiceError(MassagerError):
    """The speech engine is missing or failed to synthesise a spoken cue."""
