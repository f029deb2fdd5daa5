"""The Richmat WiLinke adaptor: discrete levels sent, nothing ever read back.

The base has a head and a foot massage motor (the catalog's ``head`` and ``foot`` zones), each set
directly to a level 0-3 by its own command (:mod:`massager_ctl.protocol.richmat`), and reports
nothing at all: every setting is open loop and the driver shows it as *assumed*. The driver's model is
one massaging zone at one intensity: a zone change is the new zone at the level, then the old zone off.
Stop is head off and foot off; the lanes send it several times, since nothing can confirm it.
"""

from __future__ import annotations

from massager_ctl.drivers.families import Family, Framer, KeyPress, WholeChunks, one_frame
from massager_ctl.drivers.zones import FOOT, HEAD, ZoneLevels
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol import richmat
from massager_ctl.protocol.messages import (
    Command,
    FrameError,
    Message,
    Report,
    SetHead,
    SetIntensity,
    SetMode,
    Stop,
)

#: Patterns the pattern key cycles through (0: none); *assumed*, the sources do not say.
PATTERNS = 3


class RichmatFamily(Family):
    """The adaptor of one Richmat base (one per driver: it remembers what it sent).

    Args:
        profile: the model (its default head is the zone chosen at first).
    """

    uses_seq = False
    identifies = False
    reports_temperature = False

    def __init__(self, profile: DeviceProfile) -> None:
        self._zones = ZoneLevels(profile)  # the levels as sent: nothing is ever reported
        self._pattern = 0

    def framer(self, *, message_oriented: bool) -> Framer:
        return WholeChunks()

    def frames(self, message: Message | KeyPress) -> list[bytes]:
        zones = self._zones
        match message:
            case SetIntensity(level=level):
                zones.update(*zones.levels_with(zones.zone, level))
                return [_zone_frame(zones.zone, level)]
            case SetHead(code=code):
                level = zones.level
                old = zones.choose(code)
                if old == code:
                    return [_zone_frame(code, level)]
                head, foot = (level, 0) if code == HEAD else (0, level)
                zones.update(head, foot)
                return [_zone_frame(code, level), _zone_frame(old, 0)]
            case SetMode(mode=mode):
                presses = (1 if self._pattern == 0 else 0) if mode else (PATTERNS - self._pattern) % PATTERNS
                self._pattern = (self._pattern + presses) % PATTERNS
                return [richmat.encode(richmat.RichmatCommand(richmat.CMD_PATTERN_STEP))] * presses
            case Stop():
                zones.update(0, 0)
                return [_zone_frame(HEAD, 0), _zone_frame(FOOT, 0)]
        raise FrameError(
            f"a Richmat base has no {getattr(message, 'name', message)} command: it reports nothing",
            kind="not_supported",
        )

    def encode(self, message: Message | KeyPress) -> bytes:
        return one_frame(self.frames(message), message, "Richmat")

    def decode(self, data: bytes) -> Message | None:
        raise FrameError("a Richmat base sends nothing; this frame is not its", kind="not_supported")

    def request_key(self, command: Command | KeyPress) -> int | str:
        raise FrameError("a Richmat base answers nothing", kind="not_supported")

    def reply_key(self, report: Report) -> int | str:
        raise FrameError("a Richmat base answers nothing", kind="not_supported")


def _zone_frame(zone: int, level: int) -> bytes:
    command = richmat.RichmatCommand.head_level if zone == HEAD else richmat.RichmatCommand.foot_level
    return richmat.encode(command(level))
