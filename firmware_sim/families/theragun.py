"""A Theragun (4th generation): runs at the RPM it is given, answers status and version requests.

Modelled from ``docs/devices/theragun.md``. It sends nothing unasked. Attachments are swapped by hand
and never detected; no auto-off over BLE is public, so this simulator has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware_sim.families import theragun_wire as wire
from firmware_sim.families.core import MachineIO
from firmware_sim.messages import FrameError


@dataclass(frozen=True, slots=True)
class TheragunState:
    rpm: int = 0
    battery: int | None = None

    @property
    def running(self) -> bool:
        return self.rpm > 0


class TheragunMachine:
    def __init__(self, io: MachineIO) -> None:
        self._io = io
        self._state = TheragunState()

    def frames(self, data: bytes) -> list[bytes]:
        return [data]

    def on_connect(self) -> None:
        return None

    def snapshot(self) -> TheragunState:
        return self._state

    def background(self) -> Any:
        return None

    def handle(self, frame: bytes) -> None:
        try:
            command = wire.decode_command(frame)
        except FrameError:
            return
        match command:
            case wire.Speed(rpm=rpm):
                self._state = TheragunState(rpm=rpm)
                self._io.changed()
            case wire.StatusQuery():
                self._io.send(
                    wire.encode_status(wire.GunStatus(running=self._state.running, rpm=self._state.rpm))
                )
            case wire.VersionQuery():
                self._io.send(wire.encode_version())
