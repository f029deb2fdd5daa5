"""What every real-product firmware shares: its link, its clock, its listeners and its faults.

A family's behaviour lives in a *machine* (``keeson.KeesonMachine`` and so on): it cuts received
bytes into frames, acts on each frame and reports its state. :class:`ProductFirmware` composes a
machine with the parts below and offers what the front-ends need (the BLE peripheral's
``BleFirmware`` and the pty front-end's interface): ``connect``, ``receive``, ``disconnect``,
``subscribe``, ``on_link_drop``, ``on_link_restore``, ``state``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, fields, replace
from types import TracebackType
from typing import Any, Protocol, Self, get_args

from firmware_sim.families.keeson_wire import Form as KeesonStatusForm
from massager_ctl.errors import ConfigError

Listener = Callable[[], None]


#: The Keeson status layouts a unit may send (``docs/devices/keeson.md``, "Status").
_STATUS_FORMS: tuple[str, ...] = get_args(KeesonStatusForm)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductFaults:
    """Faults a real product shows, and the variant of a unit that differs between real ones.

    Attributes:
        refuse_connection: the device is held by another app (a phone): a new link is refused.
        bad_checksum_every: every Nth status frame carries a wrong checksum (Keeson; 0 never).
        stale_checksum_every: every Nth status frame carries the previous frame's checksum (Keeson).
        status_form: the status layout a Keeson unit sends: ``ed`` (16 bytes), ``f0`` (19) or
            ``f1`` (20); real units are seen sending each.
    """

    refuse_connection: bool = False
    bad_checksum_every: int = 0
    stale_checksum_every: int = 0
    status_form: KeesonStatusForm = "ed"

    @classmethod
    def parse(cls, text: str) -> ProductFaults:
        """``refuse_connection=1,bad_checksum_every=4,status_form=f0`` and the like; empty for none.

        Raises:
            ConfigError: an unknown name, a count that is not a whole number or an unknown form.
        """
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, raw = item.partition("=")
            name, raw = name.strip(), raw.strip()
            if name not in known:
                raise ConfigError(f"unknown product fault {name!r}; known: {', '.join(sorted(known))}")
            if name == "status_form":
                if raw not in _STATUS_FORMS:
                    raise ConfigError(f"status_form={raw!r}: give one of {', '.join(_STATUS_FORMS)}")
                values[name] = raw
                continue
            if not raw.isdigit():
                raise ConfigError(f"fault {name}={raw!r}: give a whole number")
            values[name] = bool(int(raw)) if name == "refuse_connection" else int(raw)
        return cls(**values)


class Clock:
    """The firmware's clock: loop time scaled by ``speed`` (a speed of 10 runs timers ten times faster)."""

    def __init__(self, speed: float) -> None:
        if not speed > 0:
            raise ConfigError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._handles: set[asyncio.TimerHandle] = set()

    def now(self) -> float:
        """Firmware seconds."""
        return asyncio.get_running_loop().time() * self.speed

    def call_later(self, firmware_s: float, callback: Listener) -> asyncio.TimerHandle:
        """Run ``callback`` after ``firmware_s`` firmware seconds."""
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._handles.discard(handle)
            callback()

        handle = asyncio.get_running_loop().call_later(firmware_s / self.speed, fire)
        self._handles.add(handle)
        return handle

    def cancel_all(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()


class Countdown:
    """A latched function's own timer (a bed base's massage timer, the chair's program timer)."""

    def __init__(self, clock: Clock, on_expiry: Listener) -> None:
        self._clock = clock
        self._on_expiry = on_expiry
        self._handle: asyncio.TimerHandle | None = None
        self._ends_at = 0.0

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self, seconds: float) -> None:
        """(Re)start from ``seconds``."""
        self.cancel()
        self._ends_at = self._clock.now() + seconds
        self._handle = self._clock.call_later(seconds, self._expire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def remaining_s(self) -> float:
        """Seconds left (0 when not running)."""
        return max(0.0, self._ends_at - self._clock.now()) if self._handle is not None else 0.0

    def _expire(self) -> None:
        self._handle = None
        self._on_expiry()


class MachineIO(Protocol):
    """What a machine may do to the outside world."""

    clock: Clock
    faults: ProductFaults

    @property
    def connected(self) -> bool: ...

    def send(self, frame: bytes) -> None: ...

    def changed(self) -> None: ...


class Machine(Protocol):
    """A family's behaviour."""

    def frames(self, data: bytes) -> list[bytes]:
        """Cut received bytes into frames (a BLE write is one frame; a serial stream needs cutting)."""

    def handle(self, frame: bytes) -> None:
        """Act on one frame; a malformed one is ignored, as the real devices do."""

    def snapshot(self) -> Any:
        """The current state, a frozen dataclass with ``battery`` (``None``: not reported)."""

    def on_connect(self) -> None:
        """A controller linked up."""

    def background(self) -> Coroutine[Any, Any, None] | None:
        """A task to run while the firmware runs (a status stream), or ``None``."""


class ProductFirmware:
    """A real product's firmware: one machine, one link at a time, its clock and its faults.

    Args:
        model_id: the catalog model.
        build: makes the family's machine from the firmware's IO.
        speed: clock compression.
        faults: faults to show.
    """

    def __init__(
        self,
        model_id: str,
        build: Callable[[MachineIO], Machine],
        *,
        speed: float = 1.0,
        faults: ProductFaults | None = None,
    ) -> None:
        self.model_id = model_id
        self.clock = Clock(speed)
        self.faults = faults or ProductFaults()
        #: The latest frames received, oldest first (bounded: a served device runs for hours).
        self.received: deque[bytes] = deque(maxlen=256)
        self._send: Callable[[bytes], None] | None = None
        self._subscribers: list[Callable[[Any], None]] = []
        self._drops: list[Listener] = []
        self._restores: list[Listener] = []
        self._incoming_lost = False
        self._frame_observers: list[Callable[[str, bytes], None]] = []
        self._task: asyncio.Task[None] | None = None
        self.machine = build(self)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start the machine's background work (idempotent)."""
        if self._task is None:
            work = self.machine.background()
            if work is not None:
                self._task = asyncio.get_running_loop().create_task(work, name=f"{self.model_id} firmware")

    async def aclose(self) -> None:
        """Stop the background work and every timer."""
        self.clock.cancel_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def state(self) -> Any:
        return self.machine.snapshot()

    @property
    def link_available(self) -> bool:
        return True

    @property
    def connected(self) -> bool:
        return self._send is not None

    def hold_elsewhere(self, held: bool) -> None:
        """Show (or stop showing) the single-connection refusal: another app holds the device."""
        self.faults = replace(self.faults, refuse_connection=held)

    def connect(self, send: Callable[[bytes], None]) -> None:
        """A controller links up.

        Raises:
            ConnectionRefusedError: another link is up, or the device is held by another app.
        """
        if self.faults.refuse_connection:
            raise ConnectionRefusedError(f"{self.model_id} is held by another app")
        # == rather than `is`: a bound method (``inbox.append``) is a new object at each access
        if self._send is not None and self._send != send:
            raise ConnectionRefusedError(f"{self.model_id} grants one connection at a time")
        self._send = send
        self.machine.on_connect()

    def disconnect(self, send: Callable[[bytes], None] | None = None) -> None:
        if send is None or send == self._send:
            self._send = None

    def lose_incoming(self, lost: bool = True) -> None:
        """Lose (or stop losing) what the controller sends, on the way: a controller killed mid-session,
        a radio out of range. The device hears nothing and goes on as it was; the link stays up."""
        self._incoming_lost = lost

    def receive(self, data: bytes) -> None:
        """Bytes from the link: cut into frames and handled one by one (none while incoming is lost)."""
        if self._incoming_lost:
            return
        for frame in self.machine.frames(data):
            for observer in list(self._frame_observers):
                observer("in", frame)
            self.received.append(frame)
            self.machine.handle(frame)

    def send(self, frame: bytes) -> None:
        if self._send is not None:
            for observer in list(self._frame_observers):
                observer("out", frame)
            self._send(frame)

    def on_frame(self, callback: Callable[[str, bytes], None]) -> Callable[[], None]:
        """Watch the link: ``callback("in", frame)`` for each frame the controller sent as it reached the
        device, ``callback("out", frame)`` for each the device put on the link. Returns an unregister
        function."""
        self._frame_observers.append(callback)
        return lambda: _discard(self._frame_observers, callback)

    def changed(self) -> None:
        state = self.machine.snapshot()
        for callback in list(self._subscribers):
            callback(state)

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: _discard(self._subscribers, callback)

    def on_link_drop(self, callback: Listener) -> Callable[[], None]:
        self._drops.append(callback)
        return lambda: _discard(self._drops, callback)

    def on_link_restore(self, callback: Listener) -> Callable[[], None]:
        self._restores.append(callback)
        return lambda: _discard(self._restores, callback)


def _discard(items: list[Any], item: Any) -> None:
    with contextlib.suppress(ValueError):
        items.remove(item)
