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
from massager_ctl.models.device import HeatSpec, IntensitySpec

SCHEME = "manual://"


def is_manual(url: str) -> bool:
    return url.strip().lower().startswith(SCHEME)


#: Generic kinds, for a massager that is not in the catalog: each is planned on the heads, modes and
#: fail-safe of a reference model of its kind, with as many speeds and heat levels as the person says.
GENERIC_KINDS: dict[str, str] = {"massage-gun": "pulse-gun-p5", "cushion": "shiatsu-cushion-s3"}
#: Names for 1, 2 and 3 heat levels (above off); more are numbered.
_HEAT_NAMES = {1: ["on"], 2: ["low", "high"], 3: ["low", "medium", "high"]}
_FORM = "expected manual://MODEL (a catalog model id) or manual://KIND?speeds=N[&heat=H] (KIND: {kinds})"


def manual_profile(url: str, catalog: Catalog) -> DeviceProfile:
    """The profile a ``manual://MODEL`` or ``manual://KIND?speeds=N`` session plans against.

    Every head is fitted by hand, and every setting is the person's to make and confirm.

    Raises:
        ConfigError: no model named, options on a catalog model, or a bad option of a generic kind.
        CatalogError: the model is neither a generic kind nor in the catalog.
    """
    model, _, query = url.strip()[len(SCHEME) :].partition("?")
    form = _FORM.format(kinds=", ".join(GENERIC_KINDS))
    if not model or any(c in model for c in "/#"):
        raise ConfigError(f"device URL {url!r}: {form}")
    if model in GENERIC_KINDS:
        profile = _generic(model, _options(url, query, form), catalog.device(GENERIC_KINDS[model]))
    elif query or url.strip().endswith("?"):
        raise ConfigError(f"device URL {url!r}: options go with a generic kind only; {form}")
    else:
        profile = catalog.device(model)
    heads = [head.model_copy(update={"change": "manual"}) for head in profile.heads]
    return profile.model_copy(update={"heads": heads, "head_detection": False, "set_by_person": True})


def _options(url: str, query: str, form: str) -> dict[str, int]:
    """``speeds`` (or ``levels``) and ``heat`` from a generic kind's query string.

    Raises:
        ConfigError: an unknown option, or a value that is not a whole number in range.
    """
    ranges = {"speeds": (1, 100), "heat": (0, 9)}
    options: dict[str, int] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        key = "speeds" if key == "levels" else key
        if key not in ranges:
            raise ConfigError(f"device URL {url!r}: unknown option {key!r}; {form}")
        low, high = ranges[key]
        if not value.isdigit() or not low <= int(value) <= high:
            raise ConfigError(f"device URL {url!r}: {key} must be a whole number from {low} to {high}")
        options[key] = int(value)
    return options


def _generic(kind: str, options: dict[str, int], template: DeviceProfile) -> DeviceProfile:
    """A ``kind`` massager with the speeds and heat levels given, else those of its reference model."""
    speeds = options.get("speeds", template.intensity.max_level)
    heat = template.heat
    if "heat" in options:
        count = options["heat"]
        names = _HEAT_NAMES.get(count, [str(n) for n in range(1, count + 1)])
        max_on_s = heat.max_on_s if heat else 900  # a heated pad's usual auto-off, 15 min
        heat = HeatSpec(levels=["off", *names], max_on_s=max_on_s) if count else None
    return template.model_copy(
        update={
            "id": f"manual-{kind}",
            "name": f"A {kind.replace('-', ' ')} with {speeds} speeds",
            "description": f"A {kind.replace('-', ' ')} set by hand; planned on {template.id}'s heads.",
            "intensity": IntensitySpec(max_level=speeds),
            "heat": heat,
        }
    )


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
