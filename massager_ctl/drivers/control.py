"""Control strategies: how one setting reaches the value asked for, chosen per capability by the catalog.

* :class:`AbsoluteControl` — the command carries the value; the device's answer confirms it.
* :class:`KeyedControl` — +/- keys (``steps``) or one key (``toggle``), pressed one at a time
  until the level the device *reports* equals the target; the status is the only confirmation.
* :class:`OpenLoopControl` — the command is sent and nothing comes back: the state shows the value
  as ``assumed``.

A strategy only talks to the :class:`~massager_ctl.drivers.transact.Link`; the lanes decide when it
runs (coalescing, the gap, the stop overtaking it).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import replace

from massager_ctl.drivers.base import DeviceState
from massager_ctl.drivers.families import KeyPress, Setting, StepKey, ToggleKey
from massager_ctl.drivers.transact import Link, Superseded
from massager_ctl.errors import CommandTimeoutError
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol.messages import GetStatus, SettingCommand

Abort = Callable[[], bool]
"""True once the setting being applied has been called off (a stop overtook it)."""


def with_setting(profile: DeviceProfile, state: DeviceState, setting: Setting, value: int) -> DeviceState:
    """``state`` with ``setting`` at ``value`` (a level, or the code / index of a head, mode or direction)."""
    match setting:
        case "intensity":
            return replace(state, intensity=value, motor=value > 0)
        case "head":
            head = profile.head_by_code(value)
            return replace(state, head=head.id if head else None)
        case "heat":
            return replace(state, heat=value)
        case "mode":
            return replace(state, mode=profile.modes[value])
        case "direction":
            return replace(state, direction=profile.directions[value])


def reported(profile: DeviceProfile, state: DeviceState, setting: Setting) -> int | None:
    """The value of ``setting`` in ``state``, as :func:`with_setting` takes it (``None``: not known)."""
    match setting:
        case "intensity":
            return state.intensity
        case "heat":
            return state.heat
        case "head":
            head = profile.head(state.head) if state.head is not None else None
            return head.code if head else None
        case "mode":
            return profile.modes.index(state.mode) if state.mode in profile.modes else None
        case "direction":
            known = state.direction in profile.directions
            return profile.directions.index(state.direction) if known else None  # type: ignore[arg-type]


def value_count(profile: DeviceProfile, setting: Setting) -> int:
    """How many values ``setting`` can take on the model."""
    match setting:
        case "intensity":
            return profile.intensity.max_level + 1
        case "heat":
            return len(profile.heat.levels) if profile.heat else 1
        case "head":
            return len(profile.heads)
        case "mode":
            return len(profile.modes)
        case "direction":
            return max(1, len(profile.directions))


class Control(abc.ABC):
    """One way of bringing a setting to a value."""

    @abc.abstractmethod
    async def apply(
        self,
        link: Link,
        setting: Setting,
        value: int,
        command: Callable[[int], SettingCommand],
        *,
        abort: Abort,
    ) -> None:
        """Bring ``setting`` to ``value``; ``command`` builds the absolute command of a value.

        Raises:
            CommandTimeoutError: the device never confirmed it.
            DeviceRefusedError: the device refused it.
            LinkLostError: the link dropped.
            ProtocolError: an answer that does not fit.
            Superseded: ``abort`` turned true before the next frame went out.
        """


class AbsoluteControl(Control):
    """The command carries the value; the ack (and the status after it) confirms it."""

    async def apply(
        self,
        link: Link,
        setting: Setting,
        value: int,
        command: Callable[[int], SettingCommand],
        *,
        abort: Abort,
    ) -> None:
        await link.transact(lambda seq: replace(command(value), seq=seq), abort=abort)


class KeyedControl(Control):
    """Keys pressed one at a time until the reported value equals the target.

    Args:
        toggle: one key that toggles or cycles the setting (else a + and a - key).
        values: how many values the setting cycles through (bounds the presses of a toggle).
    """

    def __init__(self, *, toggle: bool, values: int) -> None:
        self._toggle = toggle
        self._values = values

    async def apply(
        self,
        link: Link,
        setting: Setting,
        value: int,
        command: Callable[[int], SettingCommand],
        *,
        abort: Abort,
    ) -> None:
        presses = 0
        limit: int | None = None
        while True:
            current = await self._where(link, setting)
            if current == value and link.codec.settled(setting):
                return
            if limit is None:
                # every press that lands moves one level; a few more for presses the device dropped
                distance = self._values if self._toggle else abs(value - current)
                distance = link.codec.press_limit(setting, distance)
                limit = distance + link.retries + 1
            if presses >= limit:
                raise CommandTimeoutError(
                    f"{link.transport.description}: {setting} still reported at {current}, not {value},"
                    f" after {presses} key presses"
                )
            if abort():
                raise Superseded
            key: KeyPress
            if self._toggle:
                key = ToggleKey(setting)
            else:
                key = StepKey(setting, value > current, current, target=value)
            await link.transact(_numbered(key), abort=abort)
            presses += 1

    @staticmethod
    async def _where(link: Link, setting: Setting) -> int:
        """The level the device last reported, asking for a status if that report is out of date.

        Raises:
            CommandTimeoutError: the device does not say where it is.
        """
        if link.state.stale:
            await link.transact(lambda seq: GetStatus(seq=seq))
        current = reported(link.profile, link.state, setting)
        if link.state.stale or current is None:
            raise CommandTimeoutError(f"{link.transport.description}: where {setting} is is not reported")
        return current


def _numbered(key: KeyPress) -> Callable[[int], KeyPress]:
    return lambda seq: replace(key, seq=seq)


class OpenLoopControl(Control):
    """Sent and assumed: the model answers nothing, so the state shows the value as ``assumed``."""

    async def apply(
        self,
        link: Link,
        setting: Setting,
        value: int,
        command: Callable[[int], SettingCommand],
        *,
        abort: Abort,
    ) -> None:
        if abort():
            raise Superseded
        await link.send_only(command(value))
        link.assume(with_setting(link.profile, link.state, setting, value))


def controls_for(profile: DeviceProfile) -> dict[Setting, Control]:
    """The strategy of each setting, as the model's catalog ``control`` section says."""
    settings: tuple[Setting, ...] = ("intensity", "head", "heat", "mode", "direction")
    controls: dict[Setting, Control] = {}
    for setting in settings:
        match profile.control_for(setting).style:
            case "absolute":
                controls[setting] = AbsoluteControl()
            case "steps":
                controls[setting] = KeyedControl(toggle=False, values=value_count(profile, setting))
            case "toggle":
                controls[setting] = KeyedControl(toggle=True, values=value_count(profile, setting))
            case "open-loop":
                controls[setting] = OpenLoopControl()
    return controls
