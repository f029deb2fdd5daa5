"""What a device service says: its events between sessions, and a snapshot for a late joiner.

The events go on the same bus as its sessions' events. One ordered stream keeps a
front end's view consistent: a ``ServiceIdle`` after a session's last event means
the session topic shows idle, never the other way round. These events belong to no
session: their ``session_id`` is empty and ``session_t`` 0. A front end that joins
later starts from :class:`ServiceSnapshot` and follows the bus from there.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from massager_ctl.drivers.base import DeviceState, Identity
from massager_ctl.events import BaseEvent
from massager_ctl.orchestrator.snapshot import SessionSnapshot


class DeviceUpdate(BaseEvent):
    """The device's confirmed state, whoever holds the link (a session or the idle service)."""

    type: Literal["service_device"] = "service_device"
    coalesce: ClassVar[bool] = True
    session_id: str = ""
    session_t: float = 0.0
    state: DeviceState
    identity: Identity | None = Field(None, description="What the device reported it is.")


class ServiceIdle(BaseEvent):
    """No session is running; a ``start`` without a routine runs ``routine``."""

    type: Literal["service_idle"] = "service_idle"
    session_id: str = ""
    session_t: float = 0.0
    routine: str | None


class ServiceSnapshot(BaseModel):
    """Where a device service stands now."""

    model_config = ConfigDict(frozen=True)

    connected: bool = Field(description="The service holds a live link to the device.")
    device: DeviceState | None = Field(
        description="The device's last confirmed state, if a link was ever open."
    )
    identity: Identity | None
    selected: str | None = Field(description="The routine a start without one runs.")
    session: SessionSnapshot | None = Field(description="The running session, else the last one, if any.")
