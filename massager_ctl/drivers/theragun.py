"""The Theragun adaptor: a speed set as an RPM, confirmed by the status reply to a status request.

The gun answers nothing to a speed write and sends nothing unasked (:mod:`massager_ctl.protocol.theragun`):
every setting is the speed frame followed by a status request, and only a status reply showing the
RPM asked for answers it (a stop is RPM 0, answered by a reply that shows the motor stopped). The
catalog's levels map to RPMs through the model's ``percussions_per_min`` table. Attachments are fitted
by hand and never detected: the status names no head.
"""

from __future__ import annotations

from massager_ctl.drivers.families import Family, Framer, KeyPress, WholeChunks
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol import theragun
from massager_ctl.protocol.messages import (
    Command,
    FrameError,
    GetStatus,
    Message,
    Report,
    SetIntensity,
    StatusReport,
    Stop,
)

_ANY = "status"


class TheragunFamily(Family):
    """The adaptor of one Theragun (one per driver: it remembers the last reported speed).

    Args:
        profile: the model (its RPM per level).
    """

    uses_seq = False
    identifies = False
    reports_temperature = False
    answers_each_frame = False

    def __init__(self, profile: DeviceProfile) -> None:
        self._rpms = [0, *profile.intensity.percussions_per_min]
        if len(self._rpms) < 2:
            raise FrameError(f"{profile.id} has no RPM per level in its catalog entry", kind="not_supported")
        self._rpm = 0
        self._expect = _ANY

    def framer(self, *, message_oriented: bool) -> Framer:
        return WholeChunks()

    def frames(self, message: Message | KeyPress) -> list[bytes]:
        status = theragun.encode(theragun.RequestStatus())
        match message:
            case SetIntensity(level=level):
                rpm = self._rpms[level]
                self._expect = f"rpm {rpm}"
                return [theragun.encode(theragun.SetSpeed(rpm)), status]
            case Stop():
                self._expect = "rpm 0"
                return [theragun.encode(theragun.SetSpeed(0)), status]
            case GetStatus():
                self._expect = _ANY
                return [status]
        what = getattr(message, "name", message)
        raise FrameError(f"a Theragun has no {what} command", kind="not_supported")

    def encode(self, message: Message | KeyPress) -> bytes:
        return self.frames(message)[0]

    def decode(self, data: bytes) -> Message | None:
        reply = theragun.decode_reply(data)
        if not isinstance(reply, theragun.TheragunStatus):
            return None  # a version reply: nothing this driver asks for
        self._rpm = reply.rpm if reply.running else 0
        # the nearest level of the catalog's table (a gun set from its own buttons may run between them)
        level = min(range(len(self._rpms)), key=lambda i: abs(self._rpms[i] - self._rpm))
        if self._rpm and level == 0:
            level = 1
        return StatusReport(motor=self._rpm > 0, head=0, intensity=level, heat=0, mode=0, temperature_c=0.0)

    def request_key(self, command: Command | KeyPress) -> int | str:
        return self._expect

    def reply_key(self, report: Report) -> int | str:
        return _ANY

    def answers(self, report: Report, key: int | str) -> bool:
        return isinstance(report, StatusReport) and key in (_ANY, f"rpm {self._rpm}")
