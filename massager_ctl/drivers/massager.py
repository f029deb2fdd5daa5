"""The driver of every catalog model: one link, reported state, coalesced settings, a stop lane.

The driver is a façade over collaborating objects, each with its own state:

* a **codec** — the protocol adaptor of the model's family (:mod:`massager_ctl.drivers.families`):
  framing, encoding, decoding and which reply answers which command;
* a **link** (:class:`~massager_ctl.drivers.transact.Link`) — the transport, one command on the
  wire with its retries, the reader, the reported state and link loss;
* a **control strategy** per setting (:mod:`massager_ctl.drivers.control`), chosen by the
  catalog's ``control`` section: absolute, +/- steps, toggle or open loop;
* the **lanes** (:class:`~massager_ctl.drivers.lanes.Lanes`) — coalesced settings with a minimum
  gap, the stop lane and the keepalive, the same for every family and control style.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from massager_ctl.drivers.base import DeviceState, Driver, DriverOptions, Identity
from massager_ctl.drivers.control import controls_for, with_setting
from massager_ctl.drivers.families import Family, TimerKey, family_for
from massager_ctl.drivers.lanes import Lanes
from massager_ctl.drivers.transact import END, STATES_BACKLOG, Link
from massager_ctl.errors import (
    CommandTimeoutError,
    ConfigError,
    DeviceError,
    DeviceRefusedError,
    ProtocolError,
)
from massager_ctl.models import DeviceProfile
from massager_ctl.models.device import DeviceTimerFailsafe
from massager_ctl.protocol.messages import (
    GetStatus,
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    StatusReport,
)
from massager_ctl.transports.base import Transport

__all__ = ["STATES_BACKLOG", "MassagerDriver"]

logger = logging.getLogger(__name__)


class MassagerDriver(Driver):
    """A driver for one catalog model over one transport.

    Args:
        profile: the model's catalog entry.
        transport: an unopened link to the device; the driver opens and closes it.
        options: timing overrides (``None`` fields take the catalog's values).
        codec: the protocol adaptor (default: the one of the model's protocol family).
    """

    def __init__(
        self,
        profile: DeviceProfile,
        transport: Transport,
        *,
        options: DriverOptions | None = None,
        codec: Family | None = None,
    ) -> None:
        options = options or DriverOptions()
        self.profile = profile
        self.transport = transport
        self._link = Link(
            profile,
            transport,
            codec or family_for(profile),
            ack_timeout_s=options.ack_timeout_s or profile.protocol.ack_timeout_s,
            retries=profile.protocol.retries if options.retries is None else options.retries,
        )
        gap = options.min_command_gap_s
        watchdog = profile.watchdog_spec
        self._lanes = Lanes(
            self._link,
            controls=controls_for(profile),
            gap_s=profile.protocol.min_command_gap_s if gap is None else gap,
            keepalive_s=options.keepalive_s or (watchdog.keepalive_s if watchdog else None),
            stop_confirmed=profile.control_for("stop").confirmation != "none",
        )
        #: the model reports its state (else every setting is open loop, shown as assumed)
        self._reports = profile.ble is None or profile.ble.notify_uuid is not None
        self._stop_on_open = options.stop_on_open
        self._keepalive_on_open = options.keepalive_on_open
        self._identity: Identity | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        link = self._link
        if link.opened:
            return
        link.opened = True
        try:
            await self.transport.open()
            self._spawn(link.read_loop(), "reader")
            if self._stop_on_open and self._reports:  # a silent model is stopped below, open loop
                # before the hello: that too would feed the watchdog of a device still running;
                # confirmed, and retried from what the device reports (a toggle's keys depend on it)
                await self._lanes.stop()
            self._identity = await link.identify()
            if self._reports:
                await self.refresh()
            else:
                # nothing to read: what is known is what the adaptor starts from (the default zone, the
                # first mode) and what the stop, sent several times, leaves — all of it assumed
                profile = self.profile
                link.assume(DeviceState(connected=True, head=profile.default_head, mode=profile.modes[0]))
                await self._lanes.stop()
            self._spawn(self._lanes.settings_loop(), "settings")
            self._spawn(self._lanes.keepalive_loop(), "keepalive")
            if self._keepalive_on_open:
                self._lanes.keepalive = True
        except BaseException:
            link.closed = True
            await self._shutdown()
            raise

    async def close(self) -> None:
        link = self._link
        if link.closed or not link.opened:
            link.closed = True
            return
        try:
            if link.lost is None:
                await self.stop()
        except DeviceError as e:
            logger.warning("%s: stop on close was not confirmed: %s", self.transport.description, e)
        finally:
            link.closed = True
            await self._shutdown()

    async def _shutdown(self) -> None:
        link = self._link
        self._lanes.keepalive = False
        for task in self._tasks:
            task.cancel()
        # the tasks only ever end by cancellation or link loss, never with an error worth raising
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        error = link.closed_error()
        link.fail_all(error)
        self._lanes.fail_queued(error)
        await self._lanes.cancel_helpers()
        await self.transport.close()
        link.disconnected()
        link.end_streams()

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
        return self._link.state

    @property
    def desired(self) -> DeviceState:
        """The reported state with every setting asked for but not yet confirmed applied."""
        desired = self._link.state
        for key, value in self._lanes.wanted:
            desired = with_setting(self.profile, desired, key, value)
        return desired

    async def states(self) -> AsyncIterator[DeviceState]:
        link = self._link
        if link.closed or link.lost is not None:
            return
        queue = link.subscribe()
        try:
            while (state := await queue.get()) is not END:
                assert state is not None
                yield state
        finally:
            link.unsubscribe(queue)

    @property
    def keepalive(self) -> bool:
        return self._lanes.keepalive

    @keepalive.setter
    def keepalive(self, enabled: bool) -> None:
        self._lanes.keepalive = enabled

    # -- settings ------------------------------------------------------------------------------

    async def stop(self) -> DeviceState:
        return await self._lanes.stop()

    async def set_intensity(self, level: int) -> DeviceState:
        level = max(0, min(self.profile.intensity.max_level, int(level)))
        return await self._lanes.submit("intensity", level, lambda v: SetIntensity(level=v))

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
        return await self._lanes.submit("head", head.code, lambda v: SetHead(code=v))

    async def set_heat(self, level: int) -> DeviceState:
        heat = self.profile.heat
        if heat is None:
            if level <= 0:
                return self._link.state
            raise DeviceRefusedError(f"{self.profile.id} has no heater", code="not_supported")
        level = max(0, min(len(heat.levels) - 1, int(level)))
        return await self._lanes.submit("heat", level, lambda v: SetHeat(level=v))

    async def set_mode(self, mode: str) -> DeviceState:
        if mode not in self.profile.modes:
            raise ConfigError(
                f"{self.profile.id} has no mode {mode!r}; modes: {', '.join(self.profile.modes)}"
            )
        return await self._lanes.submit("mode", self.profile.modes.index(mode), lambda v: SetMode(mode=v))

    async def set_direction(self, direction: str) -> DeviceState:
        if not self.profile.directions:
            raise DeviceRefusedError(f"{self.profile.id} has no direction setting", code="not_supported")
        if direction not in self.profile.directions:
            known = ", ".join(self.profile.directions)
            raise ConfigError(f"{self.profile.id} has no direction {direction!r}; directions: {known}")
        index = self.profile.directions.index(direction)
        return await self._lanes.submit("direction", index, lambda v: SetDirection(direction=v))

    async def arm_timer(self, remaining_s: float) -> int | None:
        """Step the device's massage timer up to the shortest value covering ``remaining_s``.

        The timer key only steps up and past its longest value turns massage off, so a timer already
        longer than needed stays as it is: the bound returned is then that longer value. The setting
        is read back from the status after each press.

        Raises:
            CommandTimeoutError: the status never showed the setting pressed for.
            LinkLostError: the link dropped.
        """
        failsafe = self.profile.failsafe
        codec = self._link.codec
        if not isinstance(failsafe, DeviceTimerFailsafe) or not failsafe.settable or not codec.timer_cycle:
            return None
        if not self._link.state.motor:
            return None  # the base's timer runs only with massage
        wanted = failsafe.covering(remaining_s) // 60
        if codec.timer_direct:
            return await self._set_timer(remaining_s, wanted)
        for _ in range(len(codec.timer_cycle) + self._link.retries):
            if codec.timer_min is not None and codec.timer_min >= wanted:
                return codec.timer_min * 60
            await self._link.transact(lambda seq: TimerKey(seq=seq))
        raise CommandTimeoutError(
            f"{self.transport.description}: the massage timer is reported at {codec.timer_min} min,"
            f" not {wanted} min"
        )

    async def _set_timer(self, remaining_s: float, wanted: int) -> int:
        """A timer with a key per value: restart it at ``wanted`` unless what is left of it already fits.

        What is left fits when it covers ``remaining_s`` and is no longer than ``wanted`` minutes:
        the device then stops by itself no later than if the key were pressed now. Returns the
        timer's setting, in seconds (what is left of it is at most that).

        Raises:
            CommandTimeoutError: the status never showed the timer restarted.
            LinkLostError: the link dropped.
        """
        codec = self._link.codec
        left = codec.timer_left_s
        if left is not None and codec.timer_min is not None and remaining_s <= left <= wanted * 60:
            return codec.timer_min * 60
        await self._link.transact(lambda seq: TimerKey(minutes=wanted, seq=seq))
        return wanted * 60

    async def refresh(self) -> DeviceState:
        self._link.check_usable()
        if not self._reports:
            # a model that reports nothing has nothing to ask: the state stays assumed
            return self._link.state
        report = await self._link.transact(lambda seq: GetStatus(seq=seq))
        if not isinstance(report, StatusReport):
            raise ProtocolError(f"{self.transport.description}: expected a status, got {report}")
        return self._link.state
