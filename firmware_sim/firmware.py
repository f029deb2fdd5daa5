"""The simulated massager firmware: one device's state machine and clocks.

The firmware reads its capabilities from a catalog :class:`~massager_ctl.models.DeviceProfile` and speaks
the model's protocol family (``docs/protocols.md``). Front-ends (pty, TCP, in-memory, BLE) hand it received
bytes with :meth:`Firmware.receive` and give it a ``send`` callable with :meth:`Firmware.connect`.

Every clock runs on the event loop (``loop.time``/``call_at``/``asyncio.sleep``), so virtual-time tests
work. ``speed`` N makes a firmware second pass in 1/N real seconds. Around the state machine: temperature and
battery models in :mod:`firmware_sim.physics`, the random faults in :mod:`firmware_sim.faults_runtime`, the
watchdog and heat timers in :mod:`firmware_sim.timers`, failure bookkeeping (strict mode) in
:mod:`firmware_sim.failures` and :class:`FirmwareState` in :mod:`firmware_sim.state`. The behaviour is
described in ``docs/simulator.md``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
from collections.abc import Callable
from types import TracebackType
from typing import Literal, Self

from firmware_sim.failures import STRICT_ENV, FailureLog, FirmwareBugError
from firmware_sim.faults import FaultSpec
from firmware_sim.faults_runtime import FaultDice
from firmware_sim.messages import (
    Command,
    FrameError,
    GetStatus,
    Hello,
    Ping,
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    Stop,
)
from firmware_sim.outbox import Outbox
from firmware_sim.physics import Battery, Thermal
from firmware_sim.state import FirmwareState
from firmware_sim.timers import Deadline
from firmware_sim.wire import StatusFields, wire_for
from massager_ctl.models import DeviceProfile, HeadSpec

__all__ = ["STRICT_ENV", "Firmware", "FirmwareBugError", "FirmwareState", "FrameObserver"]

TICK_S = 1.0
#: Fastest real tick: at high speeds a tick spans more firmware time instead of spinning the CPU.
MIN_TICK_REAL_S = 0.02
DEFAULT_SERIAL_NUMBER = 42

Listener = Callable[[], None]
#: Told of each frame on the link: ``"in"`` from the controller, ``"out"`` from the device.
FrameObserver = Callable[[Literal["in", "out"], bytes], None]
#: A reply the device sends: its bytes, how much later it leaves, and whether it is a status.
_Reply = tuple[bytes, float, bool]


class Firmware:
    """One simulated device: a state machine, its clocks, and its own codec for the model's protocol.

    Args:
        profile: the catalog model to simulate.
        speed: clock compression; a firmware second lasts ``1/speed`` real seconds.
        faults: faults to inject (none by default).
        seed: seeds the fault generator and the serial number, for reproducible runs.
        strict: what to do with the firmware's own failures (a bug handling a frame, a tick, a timer, a
            listener). Every failure is logged and kept in :attr:`failures`, and the device runs on. Strict
            mode also re-raises a failure from :meth:`receive` to the front-end that fed the frame, and makes
            :meth:`aclose` raise :class:`FirmwareBugError` if anything failed, so tests notice. ``None``
            (default) reads the ``MASSAGER_SIM_STRICT`` environment variable (``1`` turns it on); otherwise
            a firmware bug never takes the simulator down.

    Raises:
        ValueError: ``speed`` is not positive.
    """

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        speed: float = 1.0,
        faults: FaultSpec | None = None,
        seed: int | None = None,
        strict: bool | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.profile = profile
        self.speed = float(speed)
        self.faults = faults or FaultSpec()
        if strict is None:
            strict = os.environ.get(STRICT_ENV, "") == "1"
        self._failures = FailureLog(strict=strict)
        self.serial = _serial_number(profile.id, seed)
        self._dice = FaultDice(self.faults, seed=seed, lines=profile.protocol.family == "mascii")
        self._wire = wire_for(profile.protocol.family)
        self._motorized = all(h.change == "motorized" for h in profile.heads)
        self._head: HeadSpec | None = profile.head(profile.default_head)
        self._intensity = 0
        self._heat = 0
        self._mode = 0
        self._direction = 0
        max_level = profile.intensity.max_level
        self._thermal = Thermal(tuple(profile.heat.target_c) if profile.heat else (), max_level)
        start_battery = self.faults.start_battery
        self._battery = (
            Battery(100.0 if start_battery is None else start_battery, max_level) if profile.battery else None
        )
        self._watchdog_tripped = False
        self._heat_auto_off = False
        self._overheat = False
        self._stalled = False
        self._status_lost = False
        self._link_down = False
        self._heard_from_controller = False  # drop_link_after counts from the controller's first bytes
        self._send: Callable[[bytes], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        self._last_advance = 0.0
        self._tick_task: asyncio.Task[None] | None = None
        self._watchdog = Deadline(self._call_at, self._watchdog_expired)
        self._heat_timer = Deadline(self._call_at, self._heat_expired)
        self._fault_timers: list[asyncio.TimerHandle] = []
        self._outbox: Outbox | None = None
        self._tick_real_s = max(TICK_S / self.speed, MIN_TICK_REAL_S)
        self._last_setting: tuple[bytes, list[_Reply]] | None = None
        self._listeners: list[Callable[[FirmwareState], None]] = []
        self._frame_observers: list[FrameObserver] = []
        self._command_listeners: list[Callable[[Command], None]] = []
        self._drop_callbacks: list[Listener] = []
        self._restore_callbacks: list[Listener] = []
        self._published: FirmwareState | None = None
        self._closed = False

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the firmware's clocks on the running loop.

        Raises:
            RuntimeError: already started or closed.
        """
        if self._loop is not None or self._closed:
            raise RuntimeError("the firmware was already started")
        loop = self._loop = asyncio.get_running_loop()
        self._t0 = self._last_advance = loop.time()
        self._outbox = Outbox(loop, self._deliver)
        self._tick_task = loop.create_task(self._ticker(), name=f"firmware-{self.profile.id}")
        f = self.faults
        if f.drop_link_at is not None:
            self._fault_timers.append(self._call_at(self._at(f.drop_link_at), self._drop_link))
        if f.stall_at is not None:
            self._fault_timers.append(self._call_at(self._at(f.stall_at), self._stall))
        if f.lose_status_at is not None:
            self._fault_timers.append(self._call_at(self._at(f.lose_status_at), self._lose_status))
        if f.overheat_at is not None and self.profile.heat is not None:
            self._fault_timers.append(self._call_at(self._at(f.overheat_at), self._start_runaway))
        self._publish()

    async def aclose(self) -> None:
        """Stop every clock and drop the link; idempotent.

        Raises:
            FirmwareBugError: strict mode, and the firmware failed at some point (the first failure is
                the cause).
        """
        if self._closed:
            return
        self._closed = True
        self._watchdog.cancel()
        self._heat_timer.cancel()
        for timer in self._fault_timers:
            timer.cancel()
        self._fault_timers.clear()
        self._clear_outbox()
        self._send = None
        if self._tick_task is not None:
            self._tick_task.cancel()
            try:
                await self._tick_task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        self._failures.raise_if_strict(f"the simulated {self.profile.id} firmware")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ----------------------------------------------------------------- link API

    @property
    def link_available(self) -> bool:
        """False while an injected link drop keeps the device unreachable."""
        return not self._link_down and not self._closed

    def connect(self, send: Callable[[bytes], None]) -> None:
        """A front-end's link came up; frames (mbin) or lines (mascii) go to ``send``, one per call.

        A new link replaces the previous one.

        Raises:
            ConnectionRefusedError: an injected link drop is in progress, or the firmware is closed.
        """
        if not self.link_available:
            raise ConnectionRefusedError("the simulated device is not reachable right now")
        self._send = send
        self._clear_outbox()
        self._wire.reset()
        self._publish()

    def disconnect(self, send: Callable[[bytes], None] | None = None) -> None:
        """The link went down. The firmware keeps running; its watchdog will trip.

        Args:
            send: the front-end's ``send``; when given, only that link is dropped (a newer one stays).
        """
        if send is not None and send is not self._send:
            return
        self._send = None
        self._clear_outbox()
        self._wire.reset()
        self._publish()

    def receive(self, data: bytes) -> None:
        """Bytes from the controller: mbin one frame per call; mascii any chunk of the stream.

        Raises:
            RuntimeError: the firmware was not started.
            Exception: strict mode only: whatever the firmware failed with.
        """
        if self._loop is None:
            raise RuntimeError("start() the firmware before feeding it frames")
        if self._closed or self._link_down:
            return
        if not self._heard_from_controller:
            self._heard_from_controller = True
            if self.faults.drop_link_after is not None:
                when = self._loop.time() + self.faults.drop_link_after / self.speed
                self._fault_timers.append(self._call_at(when, self._drop_link))
        for frame in self._wire.frames(data):
            try:
                if frame is not None:
                    # an observer that raises is a failure like the firmware's own (strict mode raises it)
                    for observer in list(self._frame_observers):
                        observer("in", frame)
                self._handle(frame)
            except Exception as e:  # a firmware bug must not take the front-end down with it
                self._failures.record(f"firmware failed on frame {frame!r}", e)
                if self._failures.strict:
                    raise

    def on_frame(self, callback: FrameObserver) -> Callable[[], None]:
        """Watch the link: ``callback("in", frame)`` for each frame (mascii: line) the controller sent, as it
        reached the device, before injected loss or damage; ``callback("out", frame)`` for each the device put
        on the link, after them. Returns an unregister function.

        A callback that raises counts as a firmware failure (see the class's ``strict``); on ``"in"`` the
        frame is then not handled.
        """
        self._frame_observers.append(callback)
        return lambda: _discard(self._frame_observers, callback)

    def send_raw(self, frame: bytes) -> None:
        """Put ``frame`` on the link as it is, after anything waiting: a unit with a firmware bug.

        Nothing is checked or applied, and no injected fault touches it; with no link up it is lost.
        """
        if self._send is not None and not self._link_down and self._outbox is not None:
            self._outbox.put(frame)

    def on_link_drop(self, callback: Listener) -> Callable[[], None]:
        """Be told when an injected fault drops the link; returns an unregister function."""
        self._drop_callbacks.append(callback)
        return lambda: _discard(self._drop_callbacks, callback)

    def on_link_restore(self, callback: Listener) -> Callable[[], None]:
        """Be told when a dropped link may come back (advertise again); returns an unregister function."""
        self._restore_callbacks.append(callback)
        return lambda: _discard(self._restore_callbacks, callback)

    # ----------------------------------------------------------------- observation

    @property
    def strict(self) -> bool:
        """Firmware failures are raised (see the class's ``strict``)."""
        return self._failures.strict

    @property
    def failures(self) -> tuple[Exception, ...]:
        """The firmware's own failures so far, oldest first; each was logged and the device ran on."""
        return self._failures.items

    @property
    def state(self) -> FirmwareState:
        """The device's state now (temperature and battery as of the last firmware tick)."""
        heat_levels = self.profile.heat.levels if self.profile.heat else ["off"]
        directions = self.profile.directions
        return FirmwareState(
            t=round(self._firmware_time(), 3),
            motor=self._intensity > 0,
            head=self._head.id if self._head else None,
            intensity=self._intensity,
            heat=self._heat,
            heat_name=heat_levels[self._heat],
            mode=self.profile.modes[self._mode],
            direction=directions[self._direction] if directions else None,
            temperature_c=round(self._thermal.temperature, 1),
            battery=self._battery.pct if self._battery else None,
            watchdog_tripped=self._watchdog_tripped,
            low_battery=self._battery is not None and self._battery.low,
            overheat=self._overheat,
            heat_auto_off=self._heat_auto_off,
            connected=self._send is not None and not self._link_down,
            powered=self._battery is None or not self._battery.empty,
        )

    def subscribe(self, callback: Callable[[FirmwareState], None]) -> Callable[[], None]:
        """Call ``callback`` with every state change; returns an unsubscribe function."""
        self._listeners.append(callback)
        return lambda: _discard(self._listeners, callback)

    def on_command(self, callback: Callable[[Command], None]) -> Callable[[], None]:
        """Call ``callback`` with every valid command the device receives, before it acts on it.

        Only what arrived intact counts (lost and damaged frames never get here); each of these fed the
        watchdog. Returns an unsubscribe function.
        """
        self._command_listeners.append(callback)
        return lambda: _discard(self._command_listeners, callback)

    # ----------------------------------------------------------------- person controls

    def fit_head(self, head_id: str | None) -> None:
        """A person swaps the attachment (manual-head models); ``None`` takes it off.

        Raises:
            ValueError: the model selects its heads by command, or has no such head.
        """
        if self._motorized:
            raise ValueError(f"{self.profile.id} moves its zones by command; nobody swaps them by hand")
        head = None if head_id is None else self.profile.head(head_id)
        if head_id is not None and (head is None or head.id != head_id):
            raise ValueError(f"{self.profile.id} has no head {head_id!r}")
        self._head = head
        self._changed(notify_link=self.profile.head_detection)

    def set_battery(self, pct: float) -> None:
        """Charge or drain the battery to ``pct`` percent.

        Raises:
            ValueError: the model has no battery, or ``pct`` is outside 0–100.
        """
        if self._battery is None:
            raise ValueError(f"{self.profile.id} has no battery")
        if not 0 <= pct <= 100:
            raise ValueError(f"battery {pct} % is outside 0-100")
        self._battery.charge = float(pct)
        self._sync(force_notify=True)

    # ----------------------------------------------------------------- frames in

    def _handle(self, frame: bytes | None) -> None:
        if self._stalled:
            return
        if frame is not None:
            if self._dice.lose_frame():
                return
            frame = self._dice.damage(frame)
        self._sync()
        try:
            seq, command = self._wire.decode(frame)
        except FrameError as e:
            self._transmit(self._wire.reject(e))
            return
        for listener in list(self._command_listeners):
            self._failures.guarded(functools.partial(listener, command), "command listener failed")
        self._feed_watchdog()
        if isinstance(command, Hello):
            self._transmit(self._wire.identity(seq, self.profile.protocol.model_code, self.serial))
        elif isinstance(command, Ping):
            self._transmit(self._wire.ack(seq, command), delay_s=self.faults.ack_delay_s)
        elif isinstance(command, GetStatus):
            self._transmit(self._wire.status(seq, self._status_fields()), status=True)
        else:
            self._setting(seq, command, frame or b"")

    def _setting(self, seq: int, command: Command, frame: bytes) -> None:
        if self._wire.idempotent_retries and self._last_setting and self._last_setting[0] == frame:
            for reply, delay_s, status in self._last_setting[1]:
                self._transmit(reply, delay_s=delay_s, status=status)
            return
        error = self._apply(command)
        replies: list[_Reply]
        if error is None:
            ack = self._wire.ack(seq, command)
            replies = [(ack, self.faults.ack_delay_s, False), (self._status_frame(), 0.0, True)]
        else:
            replies = [(self._wire.nak(seq, command, error), self.faults.ack_delay_s, False)]
        self._last_setting = (frame, replies)
        for reply, delay_s, status in replies:
            self._transmit(reply, delay_s=delay_s, status=status)
        self._publish()

    def _apply(self, command: Command) -> str | None:
        """Carry out a setting command; the error name when refused."""
        heat = self.profile.heat
        match command:
            case Stop():
                self._intensity = 0
                self._set_heat(0)
            case SetIntensity(level=level):
                if level > self.profile.intensity.max_level:
                    return "out_of_range"
                if level > 0 and self._battery is not None and self._battery.empty:
                    return "battery_empty"
                if level > 0 and not self._motorized and self._is_refused(self._head):
                    return "refused"
                self._intensity = level
            case SetHead(code=code):
                if not self._motorized:
                    return "not_supported"
                head = self.profile.head_by_code(code)
                if head is None:
                    return "out_of_range"
                if self._is_refused(head):
                    return "refused"
                self._head = head
            case SetHeat(level=level):
                if heat is None:
                    return "not_supported"
                if level >= len(heat.levels):
                    return "out_of_range"
                if level > 0 and self._overheat:
                    return "refused"
                if level > 0 and self._battery is not None and self._battery.empty:
                    return "battery_empty"
                self._heat_auto_off = False
                self._set_heat(level)
            case SetMode(mode=mode):
                if mode >= len(self.profile.modes):
                    return "out_of_range"
                self._mode = mode
            case SetDirection(direction=direction):
                if not self.profile.directions:
                    return "not_supported"
                if direction >= len(self.profile.directions):
                    return "out_of_range"
                self._direction = direction
            case _:  # pragma: no cover - queries never get here
                return "not_supported"
        self._watchdog_tripped = False
        return None

    def _is_refused(self, head: HeadSpec | None) -> bool:
        return head is not None and head.id == self.faults.refuse_head

    def _set_heat(self, level: int) -> None:
        assert self._loop is not None
        if level > 0 and self._heat == 0 and self.profile.heat is not None:
            self._heat_timer.arm(self._loop.time() + self.profile.heat.max_on_s / self.speed)
        elif level == 0:
            self._heat_timer.cancel()
        self._heat = level

    # ----------------------------------------------------------------- clocks

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._tick_real_s)
            try:
                self._tick()
            except Exception as e:  # keep the clocks running whatever a tick hit
                self._failures.record("firmware tick failed", e)

    def _tick(self) -> None:
        if (
            self._send is not None
            and not self._link_down
            and self._dice.link_drops(self._tick_real_s * self.speed)
        ):
            self._drop_link()
        self._sync()

    def _feed_watchdog(self) -> None:
        assert self._loop is not None
        self._watchdog.arm(self._loop.time() + self.profile.watchdog.timeout_s / self.speed)

    def _watchdog_expired(self) -> None:
        self._advance()
        if self._intensity == 0 and self._heat == 0:
            return  # armed only while something runs: an idle device has nothing to stop
        self._intensity = 0
        self._set_heat(0)
        self._watchdog_tripped = True
        self._changed(notify_link=True)

    def _heat_expired(self) -> None:
        self._advance()
        if self._heat > 0:
            self._heat = 0
            self._heat_auto_off = True
            self._changed(notify_link=True)

    def _sync(self, *, force_notify: bool = False) -> None:
        """Bring physics up to now; tell the link when a flag or setting changed by itself."""
        before = self._status_fields()
        self._advance()
        after = self._status_fields()
        protocol_change = (before.intensity, before.heat, before.low_battery, before.overheat) != (
            after.intensity,
            after.heat,
            after.low_battery,
            after.overheat,
        )
        self._changed(notify_link=protocol_change or force_notify, invalidate=protocol_change or force_notify)

    def _advance(self) -> None:
        """Let the body catch up with the clock, then apply the protections."""
        if self._loop is None:
            return
        now = self._loop.time()
        dt = (now - self._last_advance) * self.speed
        self._last_advance = now
        self._thermal.advance(dt, heat=self._heat, intensity=self._intensity)
        if self._battery is not None:
            self._battery.drain(dt, intensity=self._intensity)
        limit, top = self._thermal.overheat_c, self._thermal.top_c
        if limit is not None and top is not None:
            if self._thermal.temperature > limit and not self._overheat:
                self._overheat = True
                self._thermal.runaway = False  # the thermal cut-out opens the heater circuit
                self._set_heat(0)
            elif self._overheat and self._thermal.temperature <= top:
                self._overheat = False
        if self._battery is not None and self._battery.empty and (self._intensity or self._heat):
            self._intensity = 0
            self._set_heat(0)

    # ----------------------------------------------------------------- faults

    def _drop_link(self) -> None:
        if self._link_down or self._closed:
            return
        assert self._loop is not None
        self._link_down = True
        self._send = None
        self._clear_outbox()
        self._wire.reset()
        for callback in list(self._drop_callbacks):
            self._failures.guarded(callback, "link drop callback failed")
        deadline = self._loop.time() + self.faults.reconnect_after / self.speed
        self._fault_timers.append(self._call_at(deadline, self._restore_link))
        self._publish()

    def _restore_link(self) -> None:
        self._link_down = False
        for callback in list(self._restore_callbacks):
            self._failures.guarded(callback, "link restore callback failed")
        self._publish()

    def _stall(self) -> None:
        assert self._loop is not None
        self._stalled = True
        deadline = self._loop.time() + self.faults.stall_s / self.speed
        self._fault_timers.append(self._call_at(deadline, self._end_stall))

    def _end_stall(self) -> None:
        self._stalled = False
        self._advance()
        self._changed(notify_link=True)  # waking up, the device reports where it stands

    def _lose_status(self) -> None:
        assert self._loop is not None
        self._status_lost = True
        deadline = self._loop.time() + self.faults.lose_status_s / self.speed
        self._fault_timers.append(self._call_at(deadline, self._end_status_loss))

    def _end_status_loss(self) -> None:
        self._status_lost = False  # no status of its own: the device reports again when next asked

    def _start_runaway(self) -> None:
        self._advance()
        self._thermal.runaway = True

    # ----------------------------------------------------------------- frames out

    def _transmit(self, frame: bytes, *, delay_s: float = 0.0, status: bool = False) -> None:
        if self._send is None or self._link_down or self._stalled or self._outbox is None:
            return
        if status and self._status_lost:
            return
        if self._dice.lose_frame():
            return
        frame = self._dice.damage(frame)
        self._outbox.put(frame, delay=(self.faults.delay_frame_s + delay_s) / self.speed)

    def _deliver(self, frame: bytes) -> None:
        if self._send is None:
            return
        for observer in list(self._frame_observers):
            self._failures.guarded(functools.partial(observer, "out", frame), "frame observer failed")
        self._send(frame)

    def _clear_outbox(self) -> None:
        if self._outbox is not None:
            self._outbox.clear()

    def _changed(self, *, notify_link: bool, invalidate: bool = True) -> None:
        """Something changed without a command: forget cached replies, report, publish."""
        if invalidate:
            self._last_setting = None
        if notify_link:
            self._transmit(self._status_frame(), status=True)
        self._publish()

    def _status_frame(self) -> bytes:
        return self._wire.status(0, self._status_fields())

    def _status_fields(self) -> StatusFields:
        head_code = 0
        if self._head is not None and (self._motorized or self.profile.head_detection):
            head_code = self._head.code
        return StatusFields(
            motor=self._intensity > 0,
            heat_on=self._heat > 0,
            watchdog_tripped=self._watchdog_tripped,
            low_battery=self._battery is not None and self._battery.low,
            overheat=self._overheat,
            heat_auto_off=self._heat_auto_off,
            head=head_code,
            intensity=self._intensity,
            heat=self._heat,
            mode=self._mode,
            direction=self._direction,
            temperature_c=self._thermal.temperature,
            battery=self._battery.pct if self._battery else None,
        )

    def _publish(self) -> None:
        state = self.state
        previous = self._published
        if previous is not None and dataclasses.replace(previous, t=state.t) == state:
            return
        self._published = state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception as e:
                self._failures.record("state listener failed", e)

    # ----------------------------------------------------------------- helpers

    def _call_at(self, when: float, callback: Listener) -> asyncio.TimerHandle:
        assert self._loop is not None
        return self._loop.call_at(when, self._failures.guarded, callback, "firmware timer failed")

    def _at(self, firmware_s: float) -> float:
        return self._t0 + firmware_s / self.speed

    def _firmware_time(self) -> float:
        if self._loop is None:
            return 0.0
        return (self._loop.time() - self._t0) * self.speed


def _serial_number(model_id: str, seed: int | None) -> str:
    token = model_id.split("-")[-1].upper()[:2]
    number = DEFAULT_SERIAL_NUMBER if seed is None else seed % 100_000
    return f"{token}-{number:05d}"


def _discard(items: list[Callable[..., None]], item: Callable[..., None]) -> None:
    if item in items:
        items.remove(item)
