"""The project's one error tree.

Every failure the controller can report derives from :class:`MassagerError`.
Foreign exceptions (``BleakError``, ``SerialException``, ``OSError``,
``pydantic.ValidationError``, ``yaml.YAMLError``, ``aiomqtt.MqttError``) are
translated where they enter the project, with ``raise ... from e``, so callers
only ever catch these. A timeout is also a built-in ``TimeoutError`` and a link
that could not be opened or was lost is also a ``ConnectionError`` (``+`` marks
such a second base), so generic retry code recognises them. Classes defined
outside this module name their module in brackets. The drawing is checked
against the classes by ``tests/foundation/test_errors.py``::

    Exception
    ├── MassagerError                       every failure massager-ctl reports
    │   ├── ConfigError                     bad settings, bad URL, unknown model
    │   ├── CatalogError                    a device or routine file is invalid (.problems)
    │   ├── PreflightError                  a routine does not fit a model or the user's caps
    │   ├── ControlError                    a control does not apply in the session's state
    │   ├── CommandError                    a remote command that cannot be carried out
    │   ├── VoiceError                      the speech engine failed to synthesise a spoken cue
    │   ├── DeviceError                     anything on the way to or from a device
    │   │   ├── ConnectError +ConnectionError          could not open the link
    │   │   │   └── DeviceNotFoundError     nothing answered at that address
    │   │   ├── LinkLostError +ConnectionError         the link dropped while in use
    │   │   ├── CommandTimeoutError +TimeoutError      no ack after every retry
    │   │   ├── ProtocolError               a malformed or unexpected frame
    │   │   │   ├── FrameError [massager_ctl.protocol.messages]   the controller's codec rejects it
    │   │   │   └── FrameError [firmware_sim.messages]            the simulator's codec rejects it
    │   │   └── DeviceRefusedError          the device answered with an error code (.code)
    │   └── BrokerError +ConnectionError    the MQTT broker could not be reached or dropped us
    │       └── BrokerAuthError             the broker rejected the username or password
    ├── StopSession [massager_ctl.orchestrator.signals]     internal: ends a session's run
    ├── AbortSession [massager_ctl.orchestrator.signals]    internal: the link did not come back
    ├── HelperFailed [massager_ctl.orchestrator.signals]    internal: a session task failed
    ├── LinkDown [massager_ctl.orchestrator.signals]        internal: a command hit a lost link
    ├── Superseded [massager_ctl.drivers.transact]          internal: a stop overtook a setting
    └── RuntimeError
        ├── TransitionError [massager_ctl.orchestrator.controls]  a state change the engine's table forbids
        └── FirmwareBugError [firmware_sim.failures]        a strict simulator failed internally

The internal signals steer the engine and the driver and are caught where they are
raised; they are deliberately not ``MassagerError``, so an ``except MassagerError``
can never swallow a stop. ``FirmwareBugError`` is a simulator bug that must fail a
test, not be handled as a device error; so is ``TransitionError``, an engine bug
(the session ends failed, the device made safe, and it propagates). Misuse of an
API (``ValueError``, ``RuntimeError`` for a call out of order) and pydantic validators' ``ValueError``
(turned into :class:`CatalogError` by the loader) are not part of the tree.
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


class ControlError(MassagerError):
    """A control (pause, confirm, ...) does not apply in the session's current state."""


class CommandError(MassagerError):
    """A remote command that cannot be carried out; ``action``, ``request_id`` and ``client`` when readable.

    The message is one plain line meant for the person who sent the command.
    """

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        request_id: object = None,
        client: str | None = None,
    ) -> None:
        super().__init__(message)
        self.action = action
        self.request_id = request_id
        self.client = client


class DeviceError(MassagerError):
    """Something failed on the way to or from a device."""


class ConnectError(DeviceError, ConnectionError):
    """The link to the device could not be opened."""


class DeviceNotFoundError(ConnectError):
    """Nothing answered at the given address."""


class LinkLostError(DeviceError, ConnectionError):
    """The link dropped while the device was in use."""


class CommandTimeoutError(DeviceError, TimeoutError):
    """The device did not acknowledge a command after every retry."""


class ProtocolError(DeviceError):
    """A frame was malformed, failed its checksum or made no sense here."""


class DeviceRefusedError(DeviceError):
    """The device answered a command with an error code."""

    def __init__(self, message: str, *, code: str) -> None:
        self.code = code
        super().__init__(message)


class BrokerError(MassagerError, ConnectionError):
    """The MQTT broker could not be reached, or dropped or refused the connection."""


class BrokerAuthError(BrokerError):
    """The MQTT broker rejected the username or password."""


class VoiceError(MassagerError):
    """The speech engine is missing or failed to synthesise a spoken cue."""
