"""The driver interface every device family implements, and the confirmed device state.

A driver owns one link to one device. Setting commands return when the device
acked them; ``state`` is always what the device last *reported*, never what was
asked for, and says when that report may be out of date (``stale``). ``stop``
is the safety lane: it jumps the queue and is retried until the device confirms
motor and heat off.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from massager_ctl.models import DeviceProfile


@dataclass(frozen=True, slots=True)
class Identity:
    """What the device says it is."""

    model_id: str
    model_code: int
    firmware: str
    serial: str


_FLAGS = ("watchdog_tripped", "low_battery", "overheat", "heat_auto_off")


@dataclass(frozen=True, slots=True)
class DeviceState:
    """The device's confirmed state, as decoded from its last status report.

    ``head`` is the catalog head id (``None`` when no head is fitted or known);
    ``heat`` is the heat level index (0 = off); ``mode`` and ``direction`` are
    catalog names.

    ``stale`` means the device may have changed since that report: it acked a
    command (or may have applied one whose answer was lost) and the status that
    should have followed never came. The values are then the last the device
    reported, not what it does now; whoever shows them must show them as unknown.
    A stale state is never :attr:`safe`. The next status report clears it.

    ``assumed`` means nothing reported these values: the model gives no feedback for them (open-loop
    control), so they are what the commands sent should have produced. Whoever shows them must show
    them as assumed; an assumed state is never :attr:`safe` either.
    """

    connected: bool = False
    motor: bool = False
    head: str | None = None
    intensity: int = 0
    heat: int = 0
    mode: str | None = None
    direction: str | None = None
    temperature_c: float | None = None
    battery: int | None = None
    watchdog_tripped: bool = False
    low_battery: bool = False
    overheat: bool = False
    heat_auto_off: bool = False
    stale: bool = False
    assumed: bool = False

    @property
    def safe(self) -> bool:
        """The device reported motor and heat both off, and nothing it acked since can have changed that."""
        return (
            not self.stale and not self.assumed and not self.motor and self.intensity == 0 and self.heat == 0
        )

    @property
    def flags(self) -> tuple[str, ...]:
        """The names of the device's warning flags that are set, in a fixed order."""
        return tuple(name for name in _FLAGS if getattr(self, name))


#: How the final stop of a model that reports nothing is told: not confirmed, and not a failure.
STOP_SENT_UNCONFIRMED = "stop sent, not confirmed by this model"


@dataclass(slots=True)
class DriverOptions:
    """Timing overrides (``None`` takes the model's catalog value) and how a link opens.

    Attributes:
        stop_on_open: the open handshake starts with a stop, ahead of the hello. A device may still
            run what a lost link set; any valid frame feeds its watchdog, so the first one it hears
            from a new link must be "off".
        keepalive_on_open: feed the watchdog as soon as the link is open; when false, the owner
            turns ``keepalive`` on once it has something running worth keeping alive.
    """

    ack_timeout_s: float | None = None
    retries: int | None = None
    min_command_gap_s: float | None = None
    keepalive_s: float | None = None
    extra: dict[str, str] = field(default_factory=dict)
    stop_on_open: bool = False
    keepalive_on_open: bool = True


class Driver(abc.ABC):
    """One open link to one massager.

    Use as ``async with driver:``; ``close`` is idempotent and makes a
    best-effort stop before the link goes down.
    """

    profile: DeviceProfile

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, identify the device and read its state.

        Raises:
            ConnectError: the link could not be opened.
            ProtocolError: the device is not the expected model.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Best-effort stop, then release the link. Safe to call twice."""

    @property
    @abc.abstractmethod
    def identity(self) -> Identity: ...

    @property
    @abc.abstractmethod
    def state(self) -> DeviceState:
        """The last confirmed state (``stale`` once a report the driver waited for is overdue)."""

    @abc.abstractmethod
    def states(self) -> AsyncIterator[DeviceState]:
        """Each confirmed-state change as it is reported, and each time it turns stale (ends on close)."""

    @abc.abstractmethod
    async def set_intensity(self, level: int) -> DeviceState:
        """Set the intensity level (clamped to the model's range; 0 = motor off).

        Raises:
            CommandTimeoutError: no ack after every retry.
            DeviceRefusedError: the device answered with an error.
            LinkLostError: the link dropped.
        """

    @abc.abstractmethod
    async def set_head(self, head_id: str) -> DeviceState:
        """Move to a motorized head/zone (by catalog id).

        Raises:
            DeviceRefusedError: a manual head, or the device refused.
        """

    @abc.abstractmethod
    async def set_heat(self, level: int) -> DeviceState:
        """Set the heat level index (0 = off); clamped to the model's levels."""

    @abc.abstractmethod
    async def set_mode(self, mode: str) -> DeviceState: ...

    @abc.abstractmethod
    async def set_direction(self, direction: str) -> DeviceState: ...

    @abc.abstractmethod
    async def stop(self) -> DeviceState:
        """Motor and heat off, ahead of anything queued, retried until confirmed.

        Raises:
            CommandTimeoutError: the device never confirmed after every retry.
            LinkLostError: the link is down.
        """

    async def arm_timer(self, remaining_s: float) -> int | None:
        """Set the device's own massage timer to the shortest value that covers ``remaining_s``.

        Returns the seconds the device's timer is now set to (the bound within which it stops by
        itself if the controller dies), or ``None`` when the model has no timer this controller can
        set, or nothing runs for one to end. A device without one has nothing to arm.

        Raises:
            CommandTimeoutError: the device never showed the timer setting.
            LinkLostError: the link dropped.
        """
        return None

    @abc.abstractmethod
    async def refresh(self) -> DeviceState:
        """Ask the device for its status and return it."""

    @property
    @abc.abstractmethod
    def keepalive(self) -> bool:
        """Whether the driver feeds the device's watchdog (on after ``open`` unless the options say not)."""

    @keepalive.setter
    @abc.abstractmethod
    def keepalive(self, enabled: bool) -> None: ...
