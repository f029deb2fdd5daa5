"""The Keeson adaptor: the driver's settings as key presses, the continuous status as the only confirmation.

The base has a head and a foot massage motor (the catalog's ``head`` and ``foot`` zones), each at a
level 0-6 that only +/- keys move, one level per press (:mod:`massager_ctl.protocol.keeson`). The
driver's model is one massaging zone at one intensity: a +/- press moves the chosen zone, and a zone
change while massage runs is pressed one key at a time — the new zone up to the level, then the old
zone down to 0 — the status reporting the old zone until it is off.

The base notifies its status continuously, whether or not a key landed, so "any status" proves
nothing about a press: each press is answered only by a status that shows the levels that press
should produce (:meth:`KeesonFamily.answers`); a periodic status sent before the press landed
shows the old levels and answers nothing. Stop is massage-off then release, each answered by a
status with both levels 0 (an idle base answers at once). A status whose checksum fails is counted
(:attr:`KeesonFamily.tally`) and never used, neither as state nor as a confirmation. The timer key
steps 10 -> 20 -> 30 min -> off; its setting is read back from the status.
"""

from __future__ import annotations

from massager_ctl.drivers.families import (
    Family,
    Framer,
    KeyPress,
    Setting,
    StepKey,
    TimerKey,
    WholeChunks,
    one_frame,
)
from massager_ctl.drivers.zones import FOOT, HEAD, ZoneLevels
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol import keeson
from massager_ctl.protocol.messages import (
    Command,
    FrameError,
    GetStatus,
    Message,
    Report,
    SetMode,
    StatusReport,
    Stop,
)

_ANY = "status"
_UP = {HEAD: keeson.KEY_HEAD_MASSAGE_UP, FOOT: keeson.KEY_FOOT_MASSAGE_UP}
_DOWN = {HEAD: keeson.KEY_HEAD_MASSAGE_DOWN, FOOT: keeson.KEY_FOOT_MASSAGE_DOWN}
#: The timer key's cycle, as the status reports it (``None``: no timer).
TIMER_CYCLE: tuple[int | None, ...] = (None, 10, 20, 30)


def _levels_key(levels: tuple[int, int]) -> str:
    head, foot = levels
    return f"levels {head} {foot}"


def _timer_key(minutes: int | None) -> str:
    return f"timer {minutes}"


class KeesonFamily(Family):
    """The adaptor of one Keeson base (one per driver: it remembers the zone and the last levels).

    Args:
        profile: the model (its default head is the zone chosen at first).
    """

    uses_seq = False
    identifies = False
    reports_temperature = False
    timer_cycle = TIMER_CYCLE

    def __init__(self, profile: DeviceProfile) -> None:
        self._zones = ZoneLevels(profile)
        self._expect = _ANY
        self.timer_min: int | None = None
        #: Status frames by checksum outcome; the failing ones are never used.
        self.tally = keeson.StatusTally()

    def framer(self, *, message_oriented: bool) -> Framer:
        return WholeChunks()

    def frames(self, message: Message | KeyPress) -> list[bytes]:
        zones = self._zones
        match message:
            case StepKey(setting="intensity", up=up):
                zone = zones.zone
                self._expect = _levels_key(zones.levels_with(zone, zones.level_of(zone) + (1 if up else -1)))
                return [_press((_UP if up else _DOWN)[zone])]
            case StepKey(setting="head", start=start):
                return self._zone_press(start)
            case TimerKey():
                at = TIMER_CYCLE.index(self.timer_min) if self.timer_min in TIMER_CYCLE else 0
                self._expect = _timer_key(TIMER_CYCLE[(at + 1) % len(TIMER_CYCLE)])
                return [_press(keeson.KEY_TIMER_STEP)]
            case SetMode(mode=mode):
                # open loop (the status does not say which pattern runs): the wave key cycles
                # pattern 1, 2, 3 and back to none, so leaving the wave is three presses
                presses = 0 if mode == zones.mode else 1 if mode else 3
                zones.mode = mode
                return [_press(keeson.KEY_WAVE_STEP)] * presses
            case Stop():
                zones.mode = 0
                self._expect = _levels_key((0, 0))
                return [_press(keeson.KEY_MASSAGE_OFF), _press(keeson.KEY_RELEASE)]
            case GetStatus():
                self._expect = _ANY
                return []  # the base reports unasked: the next good status answers
        raise FrameError(
            f"a Keeson base has no {getattr(message, 'name', message)} command", kind="not_supported"
        )

    def _zone_press(self, start: int) -> list[bytes]:
        """One press towards the other zone: the new zone up to the old one's level, then the old one down."""
        zones = self._zones
        old, new = start, FOOT if start == HEAD else HEAD
        if zones.level_of(old) == 0:
            zones.choose(new)  # nothing runs: choosing the zone moves nothing
            self._expect = _ANY
            return []
        if zones.level_of(new) < zones.level_of(old):
            self._expect = _levels_key(zones.levels_with(new, zones.level_of(new) + 1))
            return [_press(_UP[new])]
        self._expect = _levels_key(zones.levels_with(old, zones.level_of(old) - 1))
        return [_press(_DOWN[old])]

    def press_limit(self, setting: Setting, distance: int) -> int:
        # a zone change is up to six presses on the new zone and six on the old
        return 2 * keeson.MAX_MASSAGE_LEVEL if setting == "head" else distance

    def encode(self, message: Message | KeyPress) -> bytes:
        return one_frame(self.frames(message), message, "Keeson")

    def decode(self, data: bytes) -> Message | None:
        status = keeson.decode_status(data)
        self.tally.add(data, status)
        if not status.checksum_ok:
            return None  # counted, never used: its bytes may be the previous frame's or garbage
        zones = self._zones
        zones.update(status.head_massage, status.foot_massage)
        self.timer_min = status.timer_min
        if zones.level == 0:
            zones.mode = 0  # the wave runs only with massage
        return zones.status()

    def request_key(self, command: Command | KeyPress) -> int | str:
        return self._expect

    def reply_key(self, report: Report) -> int | str:
        return _ANY

    def answers(self, report: Report, key: int | str) -> bool:
        if key == _ANY:
            return isinstance(report, StatusReport)
        if isinstance(key, str) and key.startswith("timer"):
            return _timer_key(self.timer_min) == key
        return _levels_key((self._zones.head, self._zones.foot)) == key


def _press(keys: int) -> bytes:
    return keeson.encode(keeson.KeyPress(keys))
