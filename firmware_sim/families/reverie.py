"""A Reverie bed base: absolute massage levels 0-10 per zone, wave patterns, stop-massage, and a
9-byte notification after each command it acts on.

Modelled from ``docs/devices/reverie.md``. No public source documents a massage auto-off, so this
simulator has none: massage stays latched until a command stops it (the catalog says so too).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from firmware_sim.families import reverie_wire as wire
from firmware_sim.families.core import MachineIO
from firmware_sim.messages import FrameError


@dataclass(frozen=True, slots=True)
class ReverieState:
    head_massage: int = 0
    foot_massage: int = 0
    wave: int = 0
    head_position: int = 0
    foot_position: int = 0
    battery: int | None = None


class ReverieMachine:
    def __init__(self, io: MachineIO) -> None:
        self._io = io
        self._state = ReverieState()

    def frames(self, data: bytes) -> list[bytes]:
        return [data]

    def on_connect(self) -> None:
        self._notify()

    def snapshot(self) -> ReverieState:
        return self._state

    def background(self) -> Any:
        return None

    def handle(self, frame: bytes) -> None:
        try:
            order = wire.decode_command(frame)
        except FrameError:
            return
        s = self._state
        match order.action:
            case "head_massage":
                s = _replace(s, head_massage=order.value)
            case "foot_massage":
                s = _replace(s, foot_massage=order.value)
            case "wave":
                s = _replace(s, wave=order.value)
            case "stop_massage":
                s = _replace(s, head_massage=0, foot_massage=0, wave=0)
            case "head_position":
                s = _replace(s, head_position=order.value)
            case "foot_position":
                s = _replace(s, foot_position=order.value)
            case "flat":
                s = _replace(s, head_position=0, foot_position=0)
            case "zero_g" | "stop":
                pass  # positions are not modelled beyond their last target
        self._state = s
        self._io.changed()
        self._notify()

    def _notify(self) -> None:
        if self._io.connected:
            s = self._state
            self._io.send(
                wire.encode_report(
                    wire.Report(
                        head_position=s.head_position,
                        foot_position=s.foot_position,
                        head_massage=s.wave or s.head_massage,  # this byte carries the wave level too
                        foot_massage=s.foot_massage,
                    )
                )
            )


def _replace(state: ReverieState, **changes: int) -> ReverieState:
    return dataclasses.replace(state, **changes)
