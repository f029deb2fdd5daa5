"""The driver of every catalog model: one link, confirmed state, coalesced settings, a stop lane.

The protocol family (``mbin`` / ``mascii``) is an adaptor (:mod:`massager_ctl.drivers.families`);
everything else — acks, retries, the minimum gap, coalescing, the stop lane, the keepalive,
link loss — is the same for both.

The driver is a façade over two layers: :mod:`massager_ctl.drivers.transact` (one command on
the wire, the reader, link loss) and :mod:`massager_ctl.drivers.lanes` (the settings, stop and
keepalive lanes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import replace
from typing import Any

from massager_ctl.drivers.base import DeviceState, Driver, DriverOptions, Identity
from massager_ctl.drivers.families import Family, family_for
from massager_ctl.drivers.lanes import Lanes, Queued
from massager_ctl.drivers.transact import END, Pending
from massager_ctl.errors import (
    ConfigError,
    DeviceError,
    DeviceRefusedError,
    LinkLostError,
    ProtocolError,
)
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol.messages import (
    GetStatus,
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    StatusReport,
    Stop,
)
from massager_ctl.transports.base import Transport

logger = logging.getLogger(__name__)

#: States kept for a ``states()`` reader that falls behind; older ones are dropped (latest wins).
STATES_BACKLOG = 16


class MassagerDriver(Lanes, Driver):
    """A driver for one catalog model over one transport.

    Args:
        profile: the model's catalog entry.
        transport: an unopened link to the device; the driver opens and closes it.
        options: timing overrides (``None`` fields take the catalog's values).
    """

    def __init__(
        self, profile: DeviceProfile, transport: Transport, *, options: DriverOptions | None = None
    ) -> None:
        options = options or DriverOptions()
        self.profile = profile
        self.transport = transport
        self._family: Family = family_for(profile)
        self._ack_timeout = options.ack_timeout_s or profile.protocol.ack_timeout_s
        self._retries = profile.protocol.retries if options.retries is None else options.retries
        gap = options.min_command_gap_s
        self._gap = profile.protocol.min_command_gap_s if gap is None else gap
        self._keepalive_s = options.keepalive_s or profile.watchdog.keepalive_s
        self._stop_on_open = options.stop_on_open
        self._keepalive_on_open = options.keepalive_on_open
        self._identity: Identity | None = None
        self._state = DeviceState()
        self._queue: dict[str, Queued] = {}
        self._queue_values: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._keepalive_on = asyncio.Event()
        self._pending: list[Pending] = []
        self._awaiting_status: list[asyncio.Future[StatusReport]] = []
        self._subscribers: list[asyncio.Queue[DeviceState | None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._helpers: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._stop_epoch = 0
        self._stop_task: asyncio.Task[DeviceState] | None = None
        self._last_setting_at = -float("inf")
        self._last_sent_at = -float("inf")
        self._lost: LinkLostError | None = None
        self._opened = False
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._opened:
            return
        self._opened = True
        try:
            await self.transport.open()
            self._spawn(self._read_loop(), "reader")
            if self._stop_on_open:
                # before the hello: that too would feed the watchdog of a device still running
                await self._transact(lambda seq: Stop(seq=seq))
            self._identity = await self._identify()
            await self.refresh()
            self._spawn(self._settings_loop(), "settings")
            self._spawn(self._keepalive_loop(), "keepalive")
            if self._keepalive_on_open:
                self._keepalive_on.set()
        except BaseException:
            self._closed = True
            await self._shutdown()
            raise

    async def close(self) -> None:
        if self._closed or not self._opened:
            self._closed = True
            return
        try:
            if self._lost is None:
                await self.stop()
        except DeviceError as e:
            logger.warning("%s: stop on close was not confirmed: %s", self.transport.description, e)
        finally:
            self._closed = True
            await self._shutdown()

    async def _shutdown(self) -> None:
        self._keepalive_on.clear()
        for task in self._tasks:
            task.cancel()
        # the tasks only ever end by cancellation or link loss, never with an error worth raising
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._fail_all(self._closed_error())
        for helper in self._helpers:
            helper.cancel()
        await asyncio.gather(*self._helpers, return_exceptions=True)
        await self.transport.close()
        self._state = replace(self._state, connected=False)
        self._end_streams()

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coroutine, name=f"{self.profile.id} {name}"))

    # -- public state ----------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            raise ConfigError("the driver is not open; use 'async with driver:' first")
        return self._identity

    @property
    def state(self) -> DeviceState:
        return self._state

    @property
    def desired(self) -> DeviceState:
        """The confirmed state with every setting asked for but not yet confirmed applied."""
        desired = self._state
        for key, value in [*self._in_flight.items(), *self._queue_values.items()]:
            desired = self._with_setting(desired, key, value)
        return desired

    async def states(self) -> AsyncIterator[DeviceState]:
        queue: asyncio.Queue[DeviceState | None] = asyncio.Queue(maxsize=STATES_BACKLOG)
        if self._closed or self._lost is not None:
            return
        self._subscribers.append(queue)
        try:
            while (state := await queue.get()) is not END:
                assert state is not None
                yield state
        finally:
            self._subscribers.remove(queue)

    @property
    def keepalive(self) -> bool:
        return self._keepalive_on.is_set()

    @keepalive.setter
    def keepalive(self, enabled: bool) -> None:
        if enabled:
            self._keepalive_on.set()
        else:
            self._keepalive_on.clear()

    # -- settings ------------------------------------------------------------------------------

    async def set_intensity(self, level: int) -> DeviceState:
        level = max(0, min(self.profile.intensity.max_level, int(level)))
        return await self._submit("intensity", level, lambda v: SetIntensity(level=v))

    async def set_head(self, head_id: str) -> DeviceState:
        head = self.profile.head(head_id)
        if head is None:
            known = ", ".join(h.id for h in self.profile.heads)
            raise ConfigError(f"{self.profile.id} has no head {head_id!r}; heads: {known}")
        if head.change == "manual":
            raise DeviceRefusedError(
                f"{self.profile.id}: the {head.name} head is changed by hand; ask the person to fit it",
                code="not_supported",
            )
        return await self._submit("head", head.code, lambda v: SetHead(code=v))

    async def set_heat(self, level: int) -> DeviceState:
        heat = self.profile.heat
        if heat is None:
            if level <= 0:
                return self._state
            raise DeviceRefusedError(f"{self.profile.id} has no heater", code="not_supported")
        level = max(0, min(len(heat.levels) - 1, int(level)))
        return await self._submit("heat", level, lambda v: SetHeat(level=v))

    async def set_mode(self, mode: str) -> DeviceState:
        if mode not in self.profile.modes:
            raise ConfigError(
                f"{self.profile.id} has no mode {mode!r}; modes: {', '.join(self.profile.modes)}"
            )
        return await self._submit("mode", self.profile.modes.index(mode), lambda v: SetMode(mode=v))

    async def set_direction(self, direction: str) -> DeviceState:
        if not self.profile.directions:
            raise DeviceRefusedError(f"{self.profile.id} has no direction setting", code="not_supported")
        if direction not in self.profile.directions:
            known = ", ".join(self.profile.directions)
            raise ConfigError(f"{self.profile.id} has no direction {direction!r}; directions: {known}")
        index = self.profile.directions.index(direction)
        return await self._submit("direction", index, lambda v: SetDirection(direction=v))

    async def refresh(self) -> DeviceState:
        self._check_usable()
        report = await self._transact(lambda seq: GetStatus(seq=seq))
        if not isinstance(report, StatusReport):
            raise ProtocolError(f"{self.transport.description}: expected a status, got {report}")
        return self._state

    def _with_setting(self, state: DeviceState, key: str, value: int) -> DeviceState:
        profile = self.profile
        match key:
            case "intensity":
                return replace(state, intensity=value, motor=value > 0)
            case "head":
                head = profile.head_by_code(value)
                return replace(state, head=head.id if head else None)
            case "heat":
                return replace(state, heat=value)
            case "mode":
                return replace(state, mode=profile.modes[value])
            case _:
                return replace(state, direction=profile.directions[value])
