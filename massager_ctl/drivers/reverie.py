"""The Reverie protocol adaptor: the driver's messages as Reverie frames, its notification as a status.

The base has two massage motors, the catalog's ``head`` and ``foot`` zones, each set directly to
a level 0-10 (:mod:`massager_ctl.protocol.reverie`). The driver's model is one massaging zone at
one intensity: the adaptor remembers which zone is chosen, sets that zone's level for an
intensity, and moves the massage for a zone change (the new zone at the level, the old one off).

The base answers nothing but a 9-byte notification after each command it acts on: that status is
the reply to every command. It has no identity to ask for and no status request; to learn its state
the adaptor sends stop-motors (``55 FF AA``), which halts the *position* motors only — this
controller never moves them — and leaves massage as it is. That the notification follows every
command is assumed from the public implementations, not documented. Whatever the notification
cannot say (which pattern a wave runs, heat, temperature) it does not report.
"""

from __future__ import annotations

from massager_ctl.drivers.families import Family, Framer, KeyPress, WholeChunks, one_frame
from massager_ctl.drivers.zones import HEAD, ZoneLevels
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol import reverie
from massager_ctl.protocol.messages import (
    Command,
    FrameError,
    GetStatus,
    Message,
    Report,
    SetHead,
    SetIntensity,
    SetMode,
    Stop,
)

_STATUS = "status"


class ReverieFamily(Family):
    """The adaptor of one Reverie base (one per driver: it remembers the chosen zone).

    Args:
        profile: the model (its default head is the zone chosen at first).
    """

    uses_seq = False
    identifies = False
    reports_temperature = False

    def __init__(self, profile: DeviceProfile) -> None:
        self._zones = ZoneLevels(profile)

    def framer(self, *, message_oriented: bool) -> Framer:
        return WholeChunks()

    def frames(self, message: Message | KeyPress) -> list[bytes]:
        zones = self._zones
        match message:
            case SetIntensity(level=level):
                return [_zone_frame(zones.zone, level)]
            case SetHead(code=code):
                level = zones.level
                old = zones.choose(code)
                return [_zone_frame(code, level), *([_zone_frame(old, 0)] if old != code else [])]
            case SetMode(mode=mode):
                zones.mode = mode
                return [reverie.encode(reverie.SetWave(mode))]
            case Stop():
                zones.mode = 0  # stop-massage ends a wave too
                return [reverie.encode(reverie.StopMassage())]
            case GetStatus():
                return [reverie.encode(reverie.StopMotors())]
        raise FrameError(f"a Reverie base has no {type(message).__name__} command", kind="not_supported")

    def encode(self, message: Message | KeyPress) -> bytes:
        return one_frame(self.frames(message), message, "Reverie")

    def decode(self, data: bytes) -> Message:
        status = reverie.decode_status(data)
        zones = self._zones
        # while a wave runs the head byte carries its pattern, not the head level
        zones.update(0 if zones.mode else status.head_massage, status.foot_massage)
        return zones.status()

    def request_key(self, command: Command | KeyPress) -> int | str:
        return _STATUS

    def reply_key(self, report: Report) -> int | str:
        return _STATUS


def _zone_frame(zone: int, level: int) -> bytes:
    command = reverie.SetHeadMassage(level) if zone == HEAD else reverie.SetFootMassage(level)
    return reverie.encode(command)
