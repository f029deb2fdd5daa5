"""A Rongtai-family chair board behind a Bluetooth-UART bridge: key events, a program timer, and a
status frame whenever something changes (the seconds left included).

Modelled from ``docs/devices/rongtai.md``. Where the source is silent the simulator chooses: power on
starts kneading at speed 3 on the full back with the 20-minute timer; technique, speed, area, heat and
timer keys act only while a program runs; when the timer runs out everything stops, heat included.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from firmware_sim.families import rongtai_wire as wire
from firmware_sim.families.core import Countdown, MachineIO
from firmware_sim.messages import FrameError

TECHNIQUE_KEYS = {0x20: 1, 0x21: 2, 0x22: 5, 0x23: 4, 0x24: 3}  # key -> status technique number
SPEED_KEYS = {0x2E + n: n + 1 for n in range(6)}
AREA_KEYS = {0x28: 1, 0x29: 2, 0x2A: 3}  # partial, point, full -> width bits
HEAT_LEVEL_KEYS = {0x3C: 1, 0x3D: 2, 0x3E: 3}
TIMER_KEYS = {0x50: 10, 0x51: 20, 0x52: 30}
POWER, HEAT_TOGGLE = 0x01, 0x27
DEFAULT_TIMER_MIN = 20


@dataclass(frozen=True, slots=True)
class ChairState:
    running: bool = False
    technique: int = 0
    speed: int = 0
    width: int = 0
    heat_on: bool = False
    heat_level: int = 0
    timer_min: int | None = None
    remaining_s: int = 0
    battery: int | None = None


class ChairMachine:
    def __init__(self, io: MachineIO) -> None:
        self._io = io
        self._deframer = wire.Deframer()
        self._state = ChairState()
        self._timer = Countdown(io.clock, self._ran_out)
        self._last_sent = b""

    def frames(self, data: bytes) -> list[bytes]:
        return self._deframer.feed(data)

    def on_connect(self) -> None:
        self._last_sent = b""
        self._report()

    def snapshot(self) -> ChairState:
        return replace(self._state, remaining_s=round(self._timer.remaining_s()))

    def handle(self, frame: bytes) -> None:
        try:
            key = wire.decode_command(frame).key
        except FrameError:
            return
        s = self._state
        if key == POWER:
            s = ChairState() if s.running else self._power_on()
        elif s.running:
            s = self._while_running(s, key)
        if not s.running:
            self._timer.cancel()
        self._state = s
        self._io.changed()
        self._report()

    def _power_on(self) -> ChairState:
        self._timer.start(DEFAULT_TIMER_MIN * 60)
        return ChairState(running=True, technique=1, speed=3, width=3, timer_min=DEFAULT_TIMER_MIN)

    def _while_running(self, s: ChairState, key: int) -> ChairState:
        if key in TECHNIQUE_KEYS:
            return replace(s, technique=TECHNIQUE_KEYS[key])
        if key in SPEED_KEYS:
            return replace(s, speed=SPEED_KEYS[key])
        if key in AREA_KEYS:
            return replace(s, width=AREA_KEYS[key])
        if key == HEAT_TOGGLE:
            on = not s.heat_on
            return replace(s, heat_on=on, heat_level=(s.heat_level or 1) if on else 0)
        if key in HEAT_LEVEL_KEYS:
            return replace(s, heat_on=True, heat_level=HEAT_LEVEL_KEYS[key])
        if key in TIMER_KEYS:
            self._timer.start(TIMER_KEYS[key] * 60)
            return replace(s, timer_min=TIMER_KEYS[key])
        return s

    def _ran_out(self) -> None:
        self._state = ChairState()
        self._io.changed()
        self._report()

    def _report(self) -> None:
        """Send the status frame if it differs from the last one sent (the board reports changes)."""
        if not self._io.connected:
            return
        s = self.snapshot()
        frame = wire.encode_status(
            wire.BoardStatus(
                running=s.running,
                technique=s.technique,
                heat_on=s.heat_on,
                speed=s.speed,
                width=s.width,
                remaining_s=s.remaining_s,
                timer_min=s.timer_min,
            )
        )
        if frame != self._last_sent:
            self._last_sent = frame
            self._io.send(frame)

    async def background(self) -> None:
        while True:  # the seconds left change once a second, and the board reports the change
            await asyncio.sleep(1.0 / self._io.clock.speed)
            if self._timer.running:
                self._report()
