"""Each control style the catalog can choose, driven against the real simulator on a pty.

The device is the ``mascii`` reference firmware. The model is the catalog's ``serial-cushion-z3``
with its ``control`` section changed, and the driver speaks through a test adaptor that presses
"keys" as the firmware understands them: a + or - key is the absolute command one level further,
the heat key the command of the next heat level (what a device whose key cycles would do).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from firmware_sim import SimulatedDevice
from firmware_sim.opener import serve_sim
from massager_ctl.catalog import Catalog
from massager_ctl.drivers import MassagerDriver
from massager_ctl.drivers.families import KeyPress, MasciiFamily, StepKey, ToggleKey
from massager_ctl.errors import CommandTimeoutError
from massager_ctl.models import DeviceProfile
from massager_ctl.models.device import ControlSpec
from massager_ctl.protocol import Command, Message, SetHeat, SetIntensity, Stop
from massager_ctl.registry import OpenContext
from massager_ctl.urls import parse_device_url
from tests.drivers.driver_support import FirmwareTap

STEPS = ControlSpec(style="steps", confirmation="status")
TOGGLE = ControlSpec(style="toggle", confirmation="status")
OPEN_LOOP = ControlSpec(style="open-loop", confirmation="none")


class _Keys(MasciiFamily):
    """``mascii`` with keys: each press is sent as the absolute command it amounts to.

    ``dead_keys`` makes the firmware ignore presses (the command sent keeps the level it is at).
    """

    def __init__(self, sim: SimulatedDevice) -> None:
        self._sim = sim
        self.dead_keys = False

    def _as_command(self, key: KeyPress) -> Command:
        state = self._sim.firmware.state
        match key:
            case StepKey(setting="intensity", up=up, start=start):
                level = start if self.dead_keys else start + (1 if up else -1)
                return SetIntensity(level=level)
            case ToggleKey(setting="heat"):
                levels = 3  # off, low, high: the key cycles through them
                return SetHeat(level=state.heat if self.dead_keys else (state.heat + 1) % levels)
        raise AssertionError(f"no key {key}")

    def encode(self, message: Message | KeyPress) -> bytes:
        if isinstance(message, StepKey | ToggleKey):
            return super().encode(self._as_command(message))
        return super().encode(message)

    def request_key(self, command: Command | KeyPress) -> int | str:
        if isinstance(command, StepKey | ToggleKey):
            return super().request_key(self._as_command(command))
        return super().request_key(command)


async def _until(sim: SimulatedDevice, condition: Callable[[], bool]) -> None:
    """Open loop returns once the frame is sent: wait (bounded) for the firmware to act on it.

    The firmware answers each frame once it has handled it, so each of its frames is a moment to look.
    """
    framed = asyncio.Event()
    unregister = sim.firmware.on_frame(lambda direction, _: framed.set() if direction == "out" else None)
    try:
        async with asyncio.timeout(2):
            while not condition():
                framed.clear()
                await framed.wait()
    finally:
        unregister()


@contextlib.asynccontextmanager
async def _driven(
    catalog: Catalog, **control: ControlSpec
) -> AsyncIterator[tuple[MassagerDriver, SimulatedDevice, _Keys, FirmwareTap]]:
    url = parse_device_url("sim://serial-cushion-z3?link=pty")
    async with serve_sim(url, OpenContext(catalog=catalog)) as served:
        profile: DeviceProfile = served.profile.model_copy(update={"control": control})
        keys = _Keys(served.simulator)
        tap = FirmwareTap(served.simulator.firmware)
        async with MassagerDriver(profile, served.new_transport(), codec=keys) as device:
            yield device, served.simulator, keys, tap


async def test_steps_are_pressed_one_level_at_a_time_until_the_status_reports_the_target(
    catalog: Catalog,
) -> None:
    async with _driven(catalog, intensity=STEPS) as (device, sim, _, tap):
        state = await device.set_intensity(3)
        assert state.intensity == 3
        assert sim.firmware.state.intensity == 3
        state = await device.set_intensity(1)
        assert state.intensity == 1
        assert sim.firmware.state.intensity == 1
        assert [c.level for c in tap.of(SetIntensity)] == [1, 2, 3, 2, 1]
        assert not state.assumed


async def test_a_step_the_device_ignores_is_retried_a_bounded_number_of_times_then_fails(
    catalog: Catalog,
) -> None:
    async with _driven(catalog, intensity=STEPS) as (device, sim, keys, tap):
        keys.dead_keys = True
        with pytest.raises(CommandTimeoutError, match="still reported at 0, not 2, after 5 key presses"):
            await device.set_intensity(2)
        # distance 2 + retries 2 + 1: never an endless string of presses
        assert len(tap.of(SetIntensity)) == 5
        assert sim.firmware.state.intensity == 0


async def test_a_toggle_key_is_pressed_until_the_status_shows_the_level_asked_for(catalog: Catalog) -> None:
    async with _driven(catalog, heat=TOGGLE) as (device, sim, _, tap):
        state = await device.set_heat(2)
        assert state.heat == 2
        assert sim.firmware.state.heat == 2
        state = await device.set_heat(0)  # high -> off: one press cycles round
        assert state.heat == 0
        assert [c.level for c in tap.of(SetHeat)] == [1, 2, 0]
        # already there: nothing is pressed
        await device.set_heat(0)
        assert len(tap.of(SetHeat)) == 3


async def test_open_loop_settings_and_stop_are_shown_as_assumed_never_as_safe(catalog: Catalog) -> None:
    async with _driven(catalog, intensity=OPEN_LOOP, stop=OPEN_LOOP) as (device, sim, _, tap):
        state = await device.set_intensity(4)
        assert state.assumed
        assert state.intensity == 4
        assert state.motor
        await _until(sim, lambda: sim.firmware.state.intensity == 4)
        stops_before = tap.count(Stop)
        state = await device.stop()
        # nothing confirms it: the stop is sent several times and the stopped state is assumed
        assert state.assumed
        assert state.intensity == 0
        assert not state.motor
        assert not state.safe
        await _until(sim, lambda: tap.count(Stop) - stops_before == 3)
        assert sim.firmware.state.intensity == 0
        # a status report, when one comes, replaces what was assumed
        state = await device.refresh()
        assert not state.assumed
        assert state.safe
