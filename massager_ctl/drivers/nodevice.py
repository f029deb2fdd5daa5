"""No device at all: a session of prompts only, guided by the screen, with nothing to drive.

Most people massage themselves with their hands, a ball or a foam roller. A
routine whose steps are all prompts runs on :data:`NO_DEVICE`, a built-in
profile with no motor and no heat, through :class:`NoDeviceDriver`. That driver
is a product mode, not a test fake: there is nothing that can run, so every
state it reports is confirmed and safe, and the engine's safety floor (stop,
confirmed) holds trivially. Settings a routine might ask of it are refused:
pre-flight keeps a routine with device steps away from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import NoReturn

from massager_ctl.drivers.base import DeviceState, Driver, Identity
from massager_ctl.errors import ConfigError, DeviceRefusedError
from massager_ctl.models import DeviceProfile, HeadSpec, Routine
from massager_ctl.models.device import IntensitySpec, NoFailsafe, ProtocolSpec

#: What the session, the events and the journal show as the device of a session without one.
NO_DEVICE_URL = "no device"

#: The profile a prompt-only routine resolves against. Its one "head" is the person's hands: the
#: schema wants at least one, and no step of a prompt-only routine names it.
NO_DEVICE = DeviceProfile(
    id="no-device",
    name="No device",
    maker="massager-ctl",
    description="A session of prompts only: hands, a ball, a foam roller or a towel; nothing to drive.",
    transport="none",
    protocol=ProtocolSpec(family="none"),
    heads=[HeadSpec(id="hands", name="Your hands", kind="flat", change="manual", code=0)],
    default_head="hands",
    intensity=IntensitySpec(max_level=1),
    modes=["none"],
    failsafe=NoFailsafe(type="none", note="no motor and no heat: nothing can keep running"),
)


def needs_device(routine: Routine) -> bool:
    """Whether any step of ``routine`` sets the device, or the routine says it needs one."""
    wants = routine.requires
    if wants.device or wants.heat or wants.head_kinds:
        return True
    return any(step.device is not None for step in routine.plan())


class NoDeviceDriver(Driver):
    """The driver of :data:`NO_DEVICE`: always connected while open, always confirmed off."""

    def __init__(self) -> None:
        self.profile = NO_DEVICE
        self._state = DeviceState()
        self._closed = asyncio.Event()
        self._keepalive = False

    async def open(self) -> None:
        self._closed.clear()
        self._state = DeviceState(connected=True)

    async def close(self) -> None:
        self._state = DeviceState(connected=False)
        self._closed.set()

    @property
    def identity(self) -> Identity:
        return Identity(model_id=NO_DEVICE.id, model_code=0, firmware="", serial="")

    @property
    def state(self) -> DeviceState:
        return self._state

    async def states(self) -> AsyncIterator[DeviceState]:
        # Nothing ever changes until the session lets go; then the stream ends like a closed link's.
        await self._closed.wait()
        yield self._state

    async def set_intensity(self, level: int) -> DeviceState:
        if level != 0:
            self._refuse("an intensity")
        return self._state

    async def set_head(self, head_id: str) -> DeviceState:
        self._refuse(f"head {head_id!r}")

    async def set_heat(self, level: int) -> DeviceState:
        if level != 0:
            self._refuse("heat")
        return self._state

    async def set_mode(self, mode: str) -> DeviceState:
        self._refuse(f"mode {mode!r}")

    async def set_direction(self, direction: str) -> DeviceState:
        self._refuse(f"direction {direction!r}")

    async def stop(self) -> DeviceState:
        return self._state

    async def refresh(self) -> DeviceState:
        return self._state

    @property
    def keepalive(self) -> bool:
        return self._keepalive

    @keepalive.setter
    def keepalive(self, enabled: bool) -> None:
        self._keepalive = enabled

    def _refuse(self, what: str) -> NoReturn:
        raise DeviceRefusedError(
            f"there is no device to set {what} on; pass --device URL", code="not_supported"
        )


class NoDeviceConnector:
    """Hands the session a :class:`NoDeviceDriver`; the same shape as a device connector.

    Args:
        speed: how many times faster than real time the session runs (a rehearsal when not 1).

    Raises:
        ConfigError: ``speed`` is not positive.
    """

    def __init__(self, *, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ConfigError("--speed must be more than 0")
        self.speed = speed

    async def connect(self) -> NoDeviceDriver:
        driver = NoDeviceDriver()
        await driver.open()
        return driver

    def fit_head(self, head_id: str) -> None:
        """Nothing to fit a head on."""
