"""A Richmat WiLinke bed base: discrete massage levels, step and toggle buttons, and total silence.

Modelled from ``docs/devices/richmat.md``. The base never sends anything: a controller can only
assume what it did. Where the sources are silent the simulator chooses: the toggle starts both zones
at level 1 and stops everything when massage runs; a zone's step key cycles off, 1, 2, 3; the pattern
key cycles three patterns; the end byte ``6E`` leaves massage running (an open client sends it after
every massage key, so it cannot be what stops massage): head off and foot off do; no auto-off is
modelled (none is documented).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from firmware_sim.families import richmat_wire as wire
from firmware_sim.families.core import MachineIO
from firmware_sim.messages import FrameError

LEVELS = 4  # off, 1, 2, 3
PATTERNS = 3


@dataclass(frozen=True, slots=True)
class RichmatState:
    head_massage: int = 0
    foot_massage: int = 0
    pattern: int = 0
    battery: int | None = None

    @property
    def massage_on(self) -> bool:
        return self.head_massage > 0 or self.foot_massage > 0


class RichmatMachine:
    def __init__(self, io: MachineIO) -> None:
        self._io = io
        self._state = RichmatState()

    def frames(self, data: bytes) -> list[bytes]:
        return [data]

    def on_connect(self) -> None:
        return None

    def snapshot(self) -> RichmatState:
        return self._state

    def background(self) -> Any:
        return None

    def handle(self, frame: bytes) -> None:
        try:
            code = wire.decode_command(frame).code
        except FrameError:
            return
        s = self._state
        if code == wire.TOGGLE:
            s = RichmatState() if s.massage_on else replace(s, head_massage=1, foot_massage=1)
        elif code == wire.END:
            pass  # ends a press and stops the motors; massage runs on (one client sends it after every key)
        elif code == wire.HEAD_STEP:
            s = replace(s, head_massage=(s.head_massage + 1) % LEVELS)
        elif code == wire.FOOT_STEP:
            s = replace(s, foot_massage=(s.foot_massage + 1) % LEVELS)
        elif code == wire.PATTERN_STEP:
            s = replace(s, pattern=(s.pattern + 1) % PATTERNS)
        elif code in wire.HEAD_SET:
            s = replace(s, head_massage=wire.HEAD_SET.index(code))
        elif code in wire.FOOT_SET:
            s = replace(s, foot_massage=wire.FOOT_SET.index(code))
        self._state = s
        self._io.changed()  # to the simulator's own observers only: nothing goes back on the link
