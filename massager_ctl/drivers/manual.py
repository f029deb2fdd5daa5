"""A massager with no radio, guided by the screen: ``manual://MODEL``, the person is the actuator.

The session runs its usual timeline, caps and heat budget against the model's
profile; each setting it makes becomes an instruction for the person ("set the
speed to 2", "switch the heat to low"), shown from the step's events. Heads are
fitted by hand whatever the model does on its own, so every head change waits
for the person's confirm. The driver confirms what it was asked at once: it is
what the person was told to do, not something a device reported, and the end
of the session tells the person to switch the massager off.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from massager_ctl.catalog import Catalog
from massager_ctl.drivers.base import DeviceState, Driver, Identity
from massager_ctl.errors import ConfigError
from massager_ctl.models import DeviceProfile

SCHEME = "manual://"


def is_manual(url: str) -> bool:
    return url.strip().lower().startswith(SCHEME)


def manual_profile(url: str, catalog: Catalog) -> DeviceProfile:
    """The profile a ``manual://MODEL`` session plans against: the model's, every head fitted by hand.

    Raises:
        ConfigError: no model named, or options given (the form is ``manual://MODEL``).
        CatalogError: the model is not in the catalog.
    """
    model = url.strip()[len(SCHEME) :]
    if not model or any(c in model for c in "/?#"):
        raise ConfigError(f"device URL {url!r}: expected manual://MODEL (a catalog model id)")
    profile = catalog.device(model)
    heads = [head.model_copy(update={"change": "manual"}) for head in profile.heads]
    return profile.model_copy(update={"heads": heads, "head_detection": False, "set_by_person": True})


class ManualDriver(Driver):
    """Holds what the person was last told to set; nothing is sent anywhere."""

    def __init__(self, profile: DeviceProfile) -> None:
        self.profile = profile
        self._state = DeviceState()
        self._closed = asyncio.Event()
        self._keepalive = False

    async def open(self) -> None:
        self._closed.clear()
        self._state = DeviceState(connected=True)  # no head known: the first head step asks for one

    async def close(self) -> None:
        self._state = replace(self._state, connected=False)
        self._closed.set()

    @property
    def identity(self) -> Identity:
        return Identity(model_id=self.profile.id, model_code=0, firmware="", serial="manual")

    @property
    def state(self) -> DeviceState:
        return self._state

    async def states(self) -> AsyncIterator[DeviceState]:
        # the person reports nothing: the stream ends only when the session lets go
        await self._closed.wait()
        yield self._state

    async def refresh(self) -> DeviceState:
        return self._state

    @property
    def keepalive(self) -> bool:
        return self._keepalive

    @keepalive.setter
    def keepalive(self, enabled: bool) -> None:
        self._keepalive = enabled

    async def set_intensity(self, level: int) -> DeviceState:
        level = max(0, min(self.profile.intensity.max_level, level))
        return self._told(motor=level > 0, intensity=level)

    async def set_head(self, head_id: str) -> DeviceState:
        return self._told(head=head_id)

    async def set_heat(self, level: int) -> DeviceState:
        top = len(self.profile.heat.levels) - 1 if self.profile.heat else 0
        return self._told(heat=max(0, min(top, level)))

    async def set_mode(self, mode: str) -> DeviceState:
        return self._told(mode=mode)

    async def set_direction(self, direction: str) -> DeviceState:
        return self._told(direction=direction)

    async def stop(self) -> DeviceState:
        return self._told(motor=False, intensity=0, heat=0)

    def _told(self, **changes: Any) -> DeviceState:
        self._state = replace(self._state, **changes)
        return self._state


class ManualConnector:
    """Hands the session a :class:`ManualDriver` for ``profile``; the shape of a device connector.

    Raises:
        ConfigError: ``speed`` is not positive.
    """

    def __init__(self, profile: DeviceProfile, *, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ConfigError("--speed must be more than 0")
        self.profile = profile
        self.speed = speed

    async def connect(self) -> ManualDriver:
        driver = ManualDriver(self.profile)
        await driver.open()
        return driver

    def fit_head(self, head_id: str) -> None:
        """The person fits it; nothing to do here."""
