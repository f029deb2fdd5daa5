"""A Keeson / Ergomotion bed base: massage keys stepped one level per press, its own massage timer,
and a status frame notified continuously while a controller is connected.

Modelled from ``docs/devices/keeson.md``. Where the public sources are silent the simulator makes a
documented choice: massage started without a timer choice runs the 10-minute timer; the timer key
past 30 min turns the timer and the massage off; the massage step key raises both zones one level
(wrapping to off after 6); the wave key cycles three patterns.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from firmware_sim.families import keeson_wire as wire
from firmware_sim.families.core import Countdown, MachineIO
from firmware_sim.messages import FrameError

MAX_LEVEL = 6
TIMER_STEPS: tuple[int | None, ...] = (None, 10, 20, 30)
DEFAULT_TIMER_MIN = 10
WAVE_PATTERNS = 3
#: Seconds between status notifications (real bases send them continuously while connected).
STATUS_PERIOD_S = 0.2


@dataclass(frozen=True, slots=True)
class KeesonState:
    head_massage: int = 0
    foot_massage: int = 0
    wave: int = 0
    timer_min: int | None = None
    remaining_s: float = 0.0
    led_on: bool = False
    battery: int | None = None

    @property
    def massage_on(self) -> bool:
        return self.head_massage > 0 or self.foot_massage > 0


class KeesonMachine:
    """The base's behaviour; see the module docstring."""

    def __init__(self, io: MachineIO) -> None:
        self._io = io
        self._head = 0
        self._foot = 0
        self._wave = 0
        self._timer_min: int | None = None
        self._led = False
        self._sent = 0
        self._last = b""
        self._timer = Countdown(io.clock, self._timer_ran_out)
        self._linked = asyncio.Event()

    def frames(self, data: bytes) -> list[bytes]:
        return [data]

    def on_connect(self) -> None:
        self._linked.set()
        self._notify()

    def snapshot(self) -> KeesonState:
        return KeesonState(
            head_massage=self._head,
            foot_massage=self._foot,
            wave=self._wave,
            timer_min=self._timer_min,
            remaining_s=self._timer.remaining_s(),
            led_on=self._led,
        )

    def handle(self, frame: bytes) -> None:
        try:
            keys = wire.decode_command(frame).keys
        except FrameError:
            return  # a base ignores what it cannot read
        was_on = self._head > 0 or self._foot > 0
        self._press(keys)
        self._settle(was_on)
        self._io.changed()
        self._notify()

    def _press(self, keys: int) -> None:
        if keys & wire.MASSAGE_OFF:
            self._head = self._foot = 0
            return
        if keys & wire.HEAD_PLUS:
            self._head = min(MAX_LEVEL, self._head + 1)
        if keys & wire.HEAD_MINUS:
            self._head = max(0, self._head - 1)
        if keys & wire.FOOT_PLUS:
            self._foot = min(MAX_LEVEL, self._foot + 1)
        if keys & wire.FOOT_MINUS:
            self._foot = max(0, self._foot - 1)
        if keys & wire.MASSAGE_STEP:
            level = max(self._head, self._foot) + 1
            self._head = self._foot = 0 if level > MAX_LEVEL else level
        if keys & wire.WAVE_STEP and (self._head or self._foot):
            self._wave = (self._wave + 1) % (WAVE_PATTERNS + 1)
        if keys & wire.LIGHT:
            self._led = not self._led
        if keys & wire.TIMER_STEP:
            self._step_timer()

    def _step_timer(self) -> None:
        at = TIMER_STEPS.index(self._timer_min)
        self._timer_min = TIMER_STEPS[(at + 1) % len(TIMER_STEPS)]
        if self._timer_min is None:
            self._head = self._foot = 0  # past 30 min the timer, and with it the massage, goes off
        elif self._head or self._foot:
            self._timer.start(self._timer_min * 60)

    def _settle(self, was_on: bool) -> None:
        on = self._head > 0 or self._foot > 0
        if on and not was_on:
            self._timer_min = self._timer_min or DEFAULT_TIMER_MIN
            self._timer.start(self._timer_min * 60)
        elif not on:
            self._stop()

    def _stop(self) -> None:
        self._head = self._foot = self._wave = 0
        self._timer_min = None
        self._timer.cancel()

    def _timer_ran_out(self) -> None:
        self._stop()
        self._io.changed()
        self._notify()

    def _notify(self) -> None:
        if not self._io.connected:
            return
        self._sent += 1
        faults = self._io.faults
        corrupt: wire.Corruption | None = None
        if faults.bad_checksum_every and self._sent % faults.bad_checksum_every == 0:
            corrupt = "bad"
        elif faults.stale_checksum_every and self._sent % faults.stale_checksum_every == 0:
            corrupt = "stale"
        status = wire.StatusFrame(
            head_massage=self._head,
            foot_massage=self._foot,
            remaining_cs=round(self._timer.remaining_s() * 100),
            timer_min=self._timer_min,
            led_on=self._led,
            form=faults.status_form,  # the unit's variant, read each time as the faults may change
        )
        frame = wire.encode_status(status, corrupt=corrupt, previous=self._last)
        if corrupt is None:
            self._last = frame
        self._io.send(frame)

    async def background(self) -> None:
        while True:
            if not self._io.connected:
                # Nobody to notify: wait for the next controller instead of waking five times a
                # second for hours (a base left alone, or a test waiting out its 30-min timer).
                self._linked.clear()
                await self._linked.wait()
            await asyncio.sleep(STATUS_PERIOD_S / self._io.clock.speed)
            self._notify()
