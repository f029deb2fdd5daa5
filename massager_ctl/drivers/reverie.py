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

from massager_ctl.drivers.families import Family, Framer, KeyPress, WholeChunks
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
    StatusReport,
    Stop,
)

_STATUS = "status"
_HEAD, _FOOT = 1, 2  # the zone codes of the catalog's heads


class ReverieFamily(Family):
    """The adaptor of one Reverie base (one per driver: it remembers the chosen zone).

    Args:
        profile: the model (its default head is the zone chosen at first).
    """

    uses_seq = False
    identifies = False
    reports_temperature = False

    def __init__(self, profile: DeviceProfile) -> None:
        head = profile.head(profile.default_head)
        self._zone = head.code if head else _HEAD
        self._levels = {_HEAD: 0, _FOOT: 0}
        self._mode = 0

    def framer(self, *, message_oriented: bool) -> Framer:
        return WholeChunks()

    def frames(self, message: Message | KeyPress) -> list[bytes]:
        match message:
            case SetIntensity(level=level):
                return [_zone_frame(self._zone, level)]
            case SetHead(code=code):
                level = max(self._levels.values())
                old, self._zone = self._zone, code
                return [_zone_frame(code, level), *([_zone_frame(old, 0)] if old != code else [])]
            case SetMode(mode=mode):
                self._mode = mode
                return [reverie.encode(reverie.SetWave(mode))]
            case Stop():
                self._mode = 0  # stop-massage ends a wave too
                return [reverie.encode(reverie.StopMassage())]
            case GetStatus():
                return [reverie.encode(reverie.StopMotors())]
        raise FrameError(f"a Reverie base has no {type(message).__name__} command", kind="not_supported")

    def encode(self, message: Message | KeyPress) -> bytes:
        frames = self.frames(message)
        if len(frames) != 1:
            what = type(message).__name__
            raise FrameError(f"{what} is {len(frames)} Reverie frames, not one", kind="not_supported")
        return frames[0]

    def decode(self, data: bytes) -> Message:
        status = reverie.decode_status(data)
        # while a wave runs the head byte carries its pattern, not the head level
        head = 0 if self._mode else status.head_massage
        self._levels = {_HEAD: head, _FOOT: status.foot_massage}
        running = [zone for zone, level in self._levels.items() if level > 0]
        if len(running) == 1:
            self._zone = running[0]
        level = max(self._levels.values())
        return StatusReport(
            motor=level > 0,
            head=self._zone,
            intensity=level,
            heat=0,
            mode=self._mode,
            temperature_c=0.0,
        )

    def request_key(self, command: Command | KeyPress) -> int | str:
        return _STATUS

    def reply_key(self, report: Report) -> int | str:
        return _STATUS


def _zone_frame(zone: int, level: int) -> bytes:
    command = reverie.SetHeadMassage(level) if zone == _HEAD else reverie.SetFootMassage(level)
    return reverie.encode(command)
