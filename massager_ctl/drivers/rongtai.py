"""The Rongtai-family chair adaptor: key events out, the status the board sends on each change back.

The board's keys are button events, not settings (:mod:`massager_ctl.protocol.rongtai`): power
toggles the program, a speed key per speed 1-6, a key per technique, per area and per timer value,
heat on/off and three heat-level keys. The board takes the program keys only while a program runs,
and sends its 17-byte status only when something changes — every second while a program runs, as
the seconds left count down. So:

* the driver's intensity is the speed (0: no program running). From idle the power key starts the
  program; then the speed key of the target goes first (the board's power-on speed is not
  published), then the program the session asked for meanwhile — technique, area, heat — one key
  per press (:meth:`ChairFamily.settled` keeps the +/- strategy pressing until all have landed);
* each key is answered by the status that shows its effect; a key that would change nothing, and a
  program key while idle, is not sent at all: the family answers it from the last status
  (:meth:`ChairFamily.held`), so no key ever waits for a status that will not come;
* the area is pressed, never confirmed (the status's width bits are not mapped by the source): the
  state shows the area last pressed. The heat level is likewise the one pressed; heat on or off is
  confirmed by the status;
* with no status seen yet, stop and status requests send nothing and wait for one; an ack timeout of
  silence (longer than the one-second count-down) means no program runs (:meth:`ChairFamily.silence`)
  — the power key is a toggle, so it is never pressed blind;
* stop is the power key, answered by a status with no program and heat off;
* power and the heat toggle are toggles: a second press whose first landed (its answer lost) would
  undo it — start a stopped chair again. So a toggle is never pressed twice without a status between:
  until one comes, the family sends nothing and listens (a running board reports every second), and
  an unanswered toggle is not resent as it is (``resend_on_timeout``).
"""

from __future__ import annotations

from massager_ctl.drivers.families import (
    Family,
    Framer,
    KeyPress,
    Setting,
    StepKey,
    TimerKey,
    one_frame,
)
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol import rongtai
from massager_ctl.protocol.messages import (
    Command,
    FrameError,
    GetStatus,
    Message,
    Report,
    SetHead,
    SetHeat,
    SetMode,
    StatusReport,
    Stop,
)

#: The key of each technique, by the number the status reports it under.
TECHNIQUE_KEYS = {
    1: rongtai.KEY_KNEAD,
    2: rongtai.KEY_KNOCK,
    3: rongtai.KEY_KNEAD_KNOCK,
    4: rongtai.KEY_TAP,
    5: rongtai.KEY_PRESS,
}
_ANY = "status"
#: Keys that toggle: pressed twice, the second undoes the first.
_TOGGLES = frozenset({rongtai.KEY_POWER, rongtai.KEY_HEAT_TOGGLE})
#: Program keys that may follow power-on: technique, area, heat.
_PROGRAM_KEYS = 3
#: A timer key restarts the count-down: its status shows at most this many seconds gone.
_TIMER_SLACK_S = 3


class ChairFamily(Family):
    """The adaptor of one chair (one per driver: it remembers the last status and the program asked for).

    Args:
        profile: the model (its default head is the area, its first mode the technique, chosen at first).
    """

    uses_seq = False
    identifies = False
    reports_temperature = False
    timer_cycle = tuple(rongtai.KEY_TIMERS)
    timer_direct = True
    resend_on_timeout = False
    min_ack_timeout_s = 1.5  # longer than the one-second count-down of a running board: silence tells

    def __init__(self, profile: DeviceProfile) -> None:
        self._modes = list(profile.modes)
        head = profile.head(profile.default_head)
        self._area = head.code if head else rongtai.KEY_AREAS[-1]
        self._technique = 1
        self._heat = 0
        self._heat_pressed = 0  # the heat level last pressed (the status says on or off, not which)
        self._area_pressed = False  # since the program started
        self._last: rongtai.ChairStatus | None = None
        self._expect = _ANY
        self._toggled_unanswered = False  # a toggle went out and no status has come since

    # -- what goes out ------------------------------------------------------------------------

    def framer(self, *, message_oriented: bool) -> Framer:
        return rongtai.FrameSplitter()

    def _want(self, command: Command | KeyPress | Message) -> None:
        """Remember the program asked for: the keys go out now, or after the next power-on."""
        match command:
            case SetMode(mode=mode):
                self._technique = mode + 1
            case SetHead(code=code):
                self._area = code
            case SetHeat(level=level):
                self._heat = level

    def frames(self, message: Message | KeyPress) -> list[bytes]:
        frames = self._frames(message)
        toggles = any(rongtai.decode_command(frame).key in _TOGGLES for frame in frames)
        if toggles and self._toggled_unanswered:
            return []  # never a toggle twice blind: listen for the status first
        self._toggled_unanswered |= toggles
        return frames

    def _frames(self, message: Message | KeyPress) -> list[bytes]:
        self._want(message)
        last = self._last
        running = last is not None and last.running
        if last is None or (self._toggled_unanswered and isinstance(message, Stop | StepKey)):
            # where it is, first: power toggles, so its press depends on the next status
            self._expect = _ANY
            return []
        match message:
            case StepKey(setting="intensity", target=target):
                return [self._press(self._intensity_key(target))]
            case SetMode():
                return [self._press(TECHNIQUE_KEYS[self._technique])] if running else []
            case SetHead(code=code):
                return [self._press(code)] if running else []
            case SetHeat():
                return [self._press(self._heat_key())] if running else []
            case TimerKey(minutes=minutes) if minutes in rongtai.KEY_TIMERS:
                self._expect = f"timer {minutes}"
                return [_frame(rongtai.KEY_TIMERS[minutes])]
            case Stop():
                self._expect = "idle"
                self._heat = 0  # a later power-on must not bring back heat nobody asked for since
                if running:
                    return [_frame(rongtai.KEY_POWER)]
                return [_frame(rongtai.KEY_HEAT_TOGGLE)] if last.heat_on else []
            case GetStatus():
                self._expect = _ANY
                return []
        what = getattr(message, "name", message)
        raise FrameError(f"the chair has no {what} key", kind="not_supported")

    def _intensity_key(self, target: int) -> int:
        """The next key towards ``target``: power, the speed, then the program asked for."""
        last = self._last
        if last is None or not last.running or target == 0:  # (None: not asked, see _frames)
            return rongtai.KEY_POWER
        if last.speed != target:
            return rongtai.KEY_SPEEDS[target - 1]
        if last.technique != self._technique:
            return TECHNIQUE_KEYS[self._technique]
        if not self._area_pressed:
            return self._area
        return self._heat_key()

    def _heat_key(self) -> int:
        return rongtai.KEY_HEAT_LEVELS[self._heat - 1] if self._heat else rongtai.KEY_HEAT_TOGGLE

    def _press(self, key: int) -> bytes:
        """The frame of ``key``, remembering which status answers it."""
        last = self._last
        if key == rongtai.KEY_POWER:
            self._expect = "idle" if last is not None and last.running else "running"
        elif key in rongtai.KEY_SPEEDS:
            self._expect = f"speed {rongtai.KEY_SPEEDS.index(key) + 1}"
        elif key in TECHNIQUE_KEYS.values():
            self._expect = f"technique {self._technique}"
        elif key in rongtai.KEY_HEAT_LEVELS:
            self._heat_pressed = rongtai.KEY_HEAT_LEVELS.index(key) + 1
            self._expect = "heat on"
        elif key == rongtai.KEY_HEAT_TOGGLE:
            self._heat_pressed = 0
            self._expect = "heat off"
        else:  # an area: not reported, so the next status of the running board (within a second) answers
            self._area_pressed = True
            self._expect = "running"
        return _frame(key)

    def encode(self, message: Message | KeyPress) -> bytes:
        return one_frame(self.frames(message), message, "chair")

    def press_limit(self, setting: Setting, distance: int) -> int:
        # a speed key per level reaches any speed in one press; power and the program keys come on top
        return 1 + 1 + _PROGRAM_KEYS if setting == "intensity" else distance

    def settled(self, setting: Setting) -> bool:
        last = self._last
        if setting != "intensity" or last is None or not last.running:
            return True
        return (
            last.technique == self._technique
            and self._area_pressed
            and last.heat_on == (self._heat > 0)
            and self._heat_pressed == self._heat
        )

    def held(self, command: Command | KeyPress) -> Report | None:
        last = self._last
        if last is None:
            return None  # nothing known yet: wait for the board's first status
        match command:
            case SetMode() | SetHead() | SetHeat() if not last.running:
                self._want(command)
                return self._report()  # kept for the next program: the board ignores them while idle
            case SetMode(mode=mode) if last.technique == mode + 1:
                self._want(command)
                return self._report()
            case SetHead(code=code) if self._area_pressed and code == self._area:
                return self._report()
            case SetHeat(level=level) if level == self._heat_pressed and last.heat_on == (level > 0):
                self._want(command)
                return self._report()
            case Stop() | GetStatus() if not (last.running or last.heat_on or self._toggled_unanswered):
                return self._report()  # idle as last reported, and nothing pressed since: it stays so
        return None

    def silence(self, command: Command | KeyPress) -> Report | None:
        if not isinstance(command, Stop | GetStatus) or self._last is not None:
            return None
        # a running board reports its seconds left every second: a silent one runs nothing
        self._last = rongtai.ChairStatus(
            running=False,
            technique=0,
            program=0,
            heat_on=False,
            speed=0,
            width=0,
            remaining_s=0,
            body_scan=False,
            timer_min=None,
        )
        return self._report()

    # -- what comes back ----------------------------------------------------------------------

    def decode(self, data: bytes) -> Message:
        status = rongtai.decode_status(data)
        self._toggled_unanswered = False
        if status.running and not (self._last is not None and self._last.running):
            self._area_pressed = False  # a new program: its area is the board's until pressed
        if not status.heat_on:
            self._heat_pressed = 0
        self._last = status
        return self._report()

    def _report(self) -> StatusReport:
        last = self._last
        assert last is not None
        self.timer_min = last.timer_min if last.running else None
        self.timer_left_s = last.remaining_s if last.running else None
        technique = last.technique if last.running and last.technique in TECHNIQUE_KEYS else self._technique
        return StatusReport(
            motor=last.running,
            head=self._area,
            intensity=last.speed if last.running else 0,
            heat=(self._heat_pressed or 1) if last.heat_on else 0,
            mode=min(technique - 1, len(self._modes) - 1),
            temperature_c=0.0,
        )

    def request_key(self, command: Command | KeyPress) -> int | str:
        return self._expect

    def reply_key(self, report: Report) -> int | str:
        return _ANY

    def answers(self, report: Report, key: int | str) -> bool:
        last = self._last
        if not isinstance(report, StatusReport) or last is None:
            return False
        match key:
            case "idle":
                return not last.running and not last.heat_on
            case "running":
                return last.running
            case "heat on" | "heat off":
                return last.heat_on == (key == "heat on")
            case str() if key.startswith("speed "):
                return last.running and last.speed == int(key.split()[1])
            case str() if key.startswith("technique "):
                return last.running and last.technique == int(key.split()[1])
            case str() if key.startswith("timer "):
                minutes = int(key.split()[1])
                return last.timer_min == minutes and last.remaining_s >= minutes * 60 - _TIMER_SLACK_S
        return True


def _frame(key: int) -> bytes:
    return rongtai.encode(rongtai.KeyPress(key))

