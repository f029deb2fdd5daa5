"""Commands a device service carries out on the device itself while no session runs."""

from __future__ import annotations

import asyncio

from massager_ctl.models import DeviceProfile
from massager_ctl.orchestrator.commands import CommandError
from massager_ctl.orchestrator.device_link import DeviceLink
from massager_ctl.orchestrator.safety import drive_safe


class DeviceCommands:
    """Stop, head and heat on the service's idle device.

    Head and heat commands go to the device one at a time, in order; a stop does not queue
    behind them (the driver's own stop lane overtakes a setting in flight).

    Args:
        profile: the device's model.
        link: the service's device link.
        timeout_s: real seconds a head or heat command may take.
    """

    def __init__(self, profile: DeviceProfile, link: DeviceLink, *, timeout_s: float) -> None:
        self._profile = profile
        self._link = link
        self._timeout_s = timeout_s
        self._in_order = asyncio.Lock()

    async def stop(self) -> str:
        """Motor and heat off, confirmed.

        Raises:
            CommandError: the device is not connected or did not confirm.
        """
        state = await drive_safe(self._link.connected())
        if state is None:
            raise CommandError("the device did not confirm motor and heat off")
        return "no session was running; the device is stopped"

    async def set_head(self, head_id: str) -> str:
        """Move a motorized head (a zone) to ``head_id``.

        Raises:
            CommandError: no such head, a manual attachment, not connected, no answer in time,
                or a stop came first and dropped the change.
            MassagerError: the device refused it.
        """
        head = self._profile.head(head_id)
        if head is None:
            known = ", ".join(h.id for h in self._profile.heads)
            raise CommandError(f"{self._profile.id} has no head {head_id!r}; heads: {known}")
        if head.change == "manual":
            raise CommandError(f"{head.name} is an attachment: fit it by hand")
        async with self._in_order:
            driver = self._link.connected()
            try:
                async with asyncio.timeout(self._timeout_s):
                    state = await driver.set_head(head.id)
            except TimeoutError:
                raise CommandError("the device did not answer in time") from None
        if state.head != head.id:  # a stop came first and dropped the change
            raise CommandError(f"the head change to {head.id} was cancelled; the head is {state.head}")
        return f"head {head.id}"

    async def set_heat(self, *, on: bool) -> str:
        """Heat off (heat on only runs inside a routine, within its budget).

        Raises:
            CommandError: no heat on this model, heat on asked for, not connected, or no answer in time.
            MassagerError: the device refused it.
        """
        if self._profile.heat is None:
            raise CommandError(f"{self._profile.id} has no heat")
        if on:
            raise CommandError(
                "heat only runs inside a routine, within its time budget; start a routine with heat"
            )
        async with self._in_order:
            driver = self._link.connected()
            try:
                async with asyncio.timeout(self._timeout_s):
                    state = await driver.set_heat(0)
            except TimeoutError:
                raise CommandError("the device did not answer in time") from None
        return f"heat {'off' if state.heat == 0 else 'still on'}"
