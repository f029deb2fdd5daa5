"""Several devices in one process: a device service each, isolated from one another.

Every device gets its own :class:`~massager_ctl.orchestrator.service.DeviceService` (its own
session, event bus and device link) and its own front end (for ``serve``, its own broker
presence: topics, discovery, availability). They share the event loop and nothing else: a
device whose link drops, which refuses a command, or whose service fails outright leaves the
others' timelines alone; a failure ends that device only and is reported in its
:class:`Outcome` when the controller stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.errors import MassagerError
from massager_ctl.models import DeviceProfile
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.service import DeviceService
from massager_ctl.orchestrator.session_commands import REMOTE_STOP_REASON

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device to keep."""

    device_id: str
    url: str
    model: str
    name: str | None = None
    routine: str | None = None


#: Puts one device's service in front of the world for as long as the context lasts (``serve``: on
#: the broker). Entered before the service runs, so it sees everything the service says.
Front = Callable[[DeviceService, DeviceSpec, DeviceProfile], contextlib.AbstractAsyncContextManager[object]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one device ended: ``safe`` once the device confirmed motor and heat off; ``error`` if it failed."""

    device_id: str
    safe: bool
    error: Exception | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.device_id}: failed: {self.error}"
        if self.safe:
            return f"{self.device_id}: stopped; the device is off"
        return (
            f"{self.device_id}: stopped; motor and heat off could not be confirmed "
            "(its link was down: the device's own watchdog stops it)"
        )


class Controller:
    """Device services for several devices, each with its own front end.

    Args:
        devices: the devices to keep (ids unique).
        catalog: models and routines.
        caps: the user's limits, for every device.
        front: puts each device's service in front of the world.
        auto_confirm: confirm every wait for the person at once.
        stop_reason: the reason a session stopped by a command ends with.
        open_device: opens the connector of a device (default: a plain :class:`DeviceConnector`).
        on_ready: told each device once its front end is up.
        on_failed: told each device that fails, when it fails (the others go on).
    """

    def __init__(
        self,
        devices: Sequence[DeviceSpec],
        *,
        catalog: Catalog,
        caps: Caps,
        front: Front,
        auto_confirm: bool = False,
        stop_reason: str = REMOTE_STOP_REASON,
        open_device: Callable[[DeviceSpec], contextlib.AbstractAsyncContextManager[DeviceConnector]]
        | None = None,
        on_ready: Callable[[DeviceSpec], None] | None = None,
        on_failed: Callable[[DeviceSpec, Exception], None] | None = None,
    ) -> None:
        self._devices = list(devices)
        self._catalog = catalog
        self._caps = caps
        self._front = front
        self._auto_confirm = auto_confirm
        self._stop_reason = stop_reason
        self._open_device = open_device or (lambda spec: DeviceConnector(spec.url, catalog=catalog))
        self._on_ready = on_ready
        self._on_failed = on_failed
        self.services: dict[str, DeviceService] = {}

    async def run(self, stop: asyncio.Event) -> list[Outcome]:
        """Keep every device until ``stop`` is set; then each one stops its session and is made safe.

        A device that fails ends alone; the others go on until ``stop``.

        Returns:
            One outcome per device, in the order given.
        """
        tasks = [
            asyncio.create_task(self._keep(device, stop), name=f"device-{device.device_id}")
            for device in self._devices
        ]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            # cancelled: every device still goes through its own shutdown (each service shields it)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            raise

    async def _keep(self, device: DeviceSpec, stop: asyncio.Event) -> Outcome:
        try:
            profile = self._catalog.device(device.model)
            async with self._open_device(device) as connector:
                service = DeviceService(
                    connect=connector.connect,
                    device_url=device.url,
                    profile=profile,
                    catalog=self._catalog,
                    caps=self._caps,
                    selected=device.routine,
                    speed=connector.speed,
                    person=connector.auto_person() if self._auto_confirm else None,
                    stop_reason=self._stop_reason,
                )
                self.services[device.device_id] = service
                async with self._front(service, device, profile):
                    if self._on_ready is not None:
                        self._on_ready(device)
                    await service.run(stop)
            return Outcome(device.device_id, safe=service.stopped_safe)
        except MassagerError as e:
            return self._failed(device, e)
        except Exception as e:  # a bug in one device's service must not end the others
            log.exception("device %s crashed", device.device_id)
            return self._failed(device, e)

    def _failed(self, device: DeviceSpec, error: Exception) -> Outcome:
        if self._on_failed is not None:
            self._on_failed(device, error)
        return Outcome(device.device_id, safe=False, error=error)
