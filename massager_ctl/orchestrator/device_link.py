"""The one open link to a device that a service keeps between sessions and lends to each session.

:class:`DeviceLink` holds the current driver, opens a new one when asked (the old
one closed first), takes over the driver a session ends with (after a reconnect
that is a new one), and mirrors every confirmed state of the current driver onto
the service's bus as :class:`~massager_ctl.orchestrator.service_events.DeviceUpdate`.
When the driver reports the link gone, ``lost`` is set and ``on_lost`` called.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable

from massager_ctl.drivers.base import DeviceState, Driver
from massager_ctl.errors import MassagerError
from massager_ctl.events import EventBus
from massager_ctl.orchestrator.commands import CommandError
from massager_ctl.orchestrator.service_events import DeviceUpdate
from massager_ctl.orchestrator.session import Connector
from massager_ctl.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: Real seconds closing a link may take.
CLOSE_TIMEOUT_S = 5.0


class DeviceLink:
    """The current driver of one device.

    Args:
        connect: opens a new link to the device and returns its open driver.
        device_url: shown in log lines.
        bus: where the device's states go.
        on_lost: called when the current link drops.
    """

    def __init__(
        self, *, connect: Connector, device_url: str, bus: EventBus, on_lost: Callable[[], None]
    ) -> None:
        self._connect = connect
        self._device_url = device_url
        self._bus = bus
        self._on_lost = on_lost
        self.driver: Driver | None = None
        self.lost = asyncio.Event()
        self._mirror: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        """A driver is open and its link has not dropped."""
        return self.driver is not None and not self.lost.is_set()

    def connected(self) -> Driver:
        """The open driver.

        Raises:
            CommandError: the device is not connected.
        """
        if self.driver is None or self.lost.is_set():
            raise CommandError("the device is not connected; it is being reconnected")
        return self.driver

    async def reopen(self) -> Driver:
        """Close the current link (if any) and open a new one.

        Raises:
            ConnectError: the link could not be opened.
            ProtocolError: the device is not the expected model.
        """
        old, self.driver = self.driver, None
        await self.release(old)
        driver = await self._connect()
        self.adopt(driver)
        return driver

    async def for_session(self) -> Driver:
        """A session's connector: its first call gets the idle driver; after a drop, a fresh link."""
        if self.up:
            assert self.driver is not None
            return self.driver
        return await self.reopen()

    def adopt(self, driver: Driver) -> None:
        """Make ``driver`` the current one (a no-op if it already is and its link is up)."""
        if driver is self.driver and not self.lost.is_set():
            return
        self.driver = driver
        self.lost.clear()
        if self._mirror is not None:
            self._mirror.cancel()
        self._mirror = asyncio.create_task(self._mirror_states(driver), name="service-device-state")
        self.publish(driver.state, driver)

    def mark_lost(self) -> None:
        """Treat the current link as gone: the next user opens a new one.

        Says so on the bus too: the driver may not have noticed yet, and once a new link is being
        opened the old one's end is no longer mirrored.
        """
        if self.driver is not None and not self.lost.is_set():
            self.lost.set()
            self.publish(dataclasses.replace(self.driver.state, connected=False), self.driver)

    def publish(self, state: DeviceState, driver: Driver) -> None:
        """Put ``state``, reported by ``driver``, on the bus."""
        self._bus.publish(DeviceUpdate(state=state, identity=driver.identity))

    def detach(self) -> tuple[Driver | None, bool]:
        """Forget the driver; return it and whether its link is still up (for a last stop).

        The states it reports meanwhile are still mirrored until :meth:`stop_mirror`; the caller
        closes the driver with :meth:`release`.
        """
        driver, self.driver = self.driver, None
        return driver, driver is not None and not self.lost.is_set()

    async def stop_mirror(self) -> None:
        """Stop mirroring states (the last step of shutting down)."""
        if self._mirror is not None:
            await cancel_and_wait(self._mirror)

    @staticmethod
    async def release(driver: Driver | None) -> None:
        """Close ``driver``, giving up quietly after :data:`CLOSE_TIMEOUT_S`."""
        if driver is not None:
            with contextlib.suppress(MassagerError, TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await driver.close()

    async def _mirror_states(self, driver: Driver) -> None:
        last = driver.state
        try:
            async for state in driver.states():
                last = state
                self.publish(state, driver)
                if not state.connected:
                    break
        except MassagerError as e:
            log.warning("device %s: %s", self._device_url, e)
        if driver is self.driver:
            self.publish(dataclasses.replace(last, connected=False), driver)
            self.lost.set()
            self._on_lost()
