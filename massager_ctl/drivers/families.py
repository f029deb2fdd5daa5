"""Protocol-family adaptors: framing, codec and reply matching for one family.

The driver is family-neutral; an adaptor says how a link's bytes become
frames, how frames become messages, and which command in flight a reply
answers (``mbin`` by sequence number, ``mascii`` in order by command word).
"""

from __future__ import annotations

import abc
from dataclasses import KW_ONLY, dataclass
from typing import Literal, Protocol

from massager_ctl.errors import ConfigError
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol import mascii, mbin
from massager_ctl.protocol.messages import (
    Ack,
    Command,
    FrameError,
    IdentityReport,
    Limits,
    Message,
    Nak,
    Report,
    StatusReport,
)

#: The settings a control strategy drives; the lanes queue them under these names.
Setting = Literal["intensity", "head", "heat", "mode", "direction"]


@dataclass(frozen=True, slots=True)
class StepKey:
    """One press of a key moving ``setting`` towards ``target``, from the level the device last reported.

    A family of +/- keys ignores ``start`` and ``target``: each press moves one level ``up`` or down.
    A family with a key per level (a chair's speed keys) presses the one of ``target``.
    """

    setting: Setting
    up: bool
    start: int
    _: KW_ONLY
    target: int = 0
    seq: int = 0

    @property
    def name(self) -> str:
        return f"{self.setting} {'+' if self.up else '-'}"


@dataclass(frozen=True, slots=True)
class ToggleKey:
    """One press of the key that toggles (or cycles) ``setting``."""

    setting: Setting
    seq: int = 0

    @property
    def name(self) -> str:
        return f"{self.setting} toggle"


@dataclass(frozen=True, slots=True)
class TimerKey:
    """One press of a key of the device's own massage timer (its fail-safe).

    A family whose one key steps the timer through its values ignores ``minutes``; a family with a
    key per value presses the one of ``minutes``.
    """

    minutes: int = 0
    seq: int = 0

    @property
    def name(self) -> str:
        return "timer step"


KeyPress = StepKey | ToggleKey | TimerKey
"""A key press: the command of a family whose settings move by keys, not by value."""

ANY_COMMAND = ""
"""Reply key of a ``mascii`` error too damaged to name its command: it answers the oldest in flight."""


class Framer(Protocol):
    def feed(self, data: bytes) -> list[bytes]: ...


class WholeChunks:
    """Message-oriented links (a BLE notification, a virtual-link frame) carry one frame per chunk."""

    def feed(self, data: bytes) -> list[bytes]:
        return [data]


def limits_for(profile: DeviceProfile) -> Limits:
    """The argument ranges of a model, for decoders that check commands."""
    return Limits(
        max_intensity=profile.intensity.max_level,
        head_codes=frozenset(h.code for h in profile.heads),
        heat_levels=len(profile.heat.levels) if profile.heat else None,
        modes=len(profile.modes),
        directions=len(profile.directions) or None,
    )


class Family(abc.ABC):
    """One protocol family's view of a link.

    Attributes:
        uses_seq: commands carry a sequence number their reply echoes.
        identifies: the device answers a hello with its identity (else the catalog's word is taken).
        reports_temperature: the status carries a temperature.
    """

    uses_seq: bool
    identifies: bool = True
    reports_temperature: bool = True
    #: Every frame of a command is answered (else only the last one is: a set, then a status request).
    answers_each_frame: bool = True
    #: The values the device's massage timer key steps through, in minutes (``None``: off); empty
    #: when the controller cannot set the timer.
    timer_cycle: tuple[int | None, ...] = ()
    #: The timer setting the device last reported (minutes, ``None``: none).
    timer_min: int | None = None
    #: Seconds left on the device's timer as it last reported them (``None``: not reported).
    timer_left_s: int | None = None
    #: Each timer value has its own key (else one key steps through :attr:`timer_cycle`).
    timer_direct: bool = False
    #: An unanswered frame may be sent again as it is. A family with toggle keys says no: a second
    #: press of a toggle whose first press landed (and only its answer was lost) undoes it, so each
    #: retry asks the family again (:meth:`held`, :meth:`frames`) from what the device reported since.
    resend_on_timeout: bool = True
    #: The least ack timeout that means anything for this family (a device whose silence tells
    #: something — a running chair reports every second — must not be waited on for less).
    min_ack_timeout_s: float = 0.0

    def frames(self, message: Message | KeyPress) -> list[bytes]:
        """The frames that carry ``message``, in order; each is answered before the next goes out.

        None: nothing to send (the device reports unasked, and the next report answers).

        Raises:
            FrameError: a message this family cannot express (``not_supported``).
        """
        return [self.encode(message)]

    @abc.abstractmethod
    def framer(self, *, message_oriented: bool) -> Framer: ...

    @abc.abstractmethod
    def encode(self, message: Message | KeyPress) -> bytes:
        """The frame of ``message``.

        Raises:
            FrameError: a message this family cannot express (``not_supported``).
        """

    @abc.abstractmethod
    def decode(self, data: bytes) -> Message | None:
        """The message of one frame (``None``: a frame the family counts and never uses).

        Raises:
            FrameError: a frame that does not decode.
        """

    def answers(self, report: Report, key: int | str) -> bool:
        """Whether ``report`` answers the command in flight whose request key is ``key``.

        A family whose device reports unasked (a continuous status) overrides this so that only
        a report showing a press's effect answers it.
        """
        return self.reply_key(report) == key

    def press_limit(self, setting: Setting, distance: int) -> int:
        """How many key presses bring ``setting`` ``distance`` values along (before the retry margin)."""
        return distance

    def settled(self, setting: Setting) -> bool:
        """Whether ``setting`` is done once its reported value is the target.

        A family that must press other keys along with it (a chair's program keys after power-on)
        says no until those have landed too.
        """
        return True

    def held(self, command: Command | KeyPress) -> Report | None:
        """The answer to ``command`` when no frame should go out, or ``None`` to send it.

        A device that reports only when something changes never answers a key that changes
        nothing, nor one it ignores in its current state: its family answers such a command itself,
        from what the device last reported. The link treats the answer as a status that came in
        (the state, and whoever waits for a status, see it). The link asks ``held``, then ``frames``,
        then ``request_key``, in that order, for each attempt.
        """
        return None

    def silence(self, command: Command | KeyPress) -> Report | None:
        """What an ack timeout of silence says, for a command sent as no frame (``None``: nothing).

        A device that reports unasked, and often while it runs, tells by its silence that it is idle.
        """
        return None

    @abc.abstractmethod
    def request_key(self, command: Command | KeyPress) -> int | str:
        """The key a reply to ``command`` will carry."""

    @abc.abstractmethod
    def reply_key(self, report: Report) -> int | str:
        """The key of the command ``report`` answers (:data:`ANY_COMMAND`: the oldest in flight)."""


def one_frame(frames: list[bytes], message: Message | KeyPress, family: str) -> bytes:
    """The single frame of a message, for a family whose :meth:`Family.frames` may give several.

    Raises:
        FrameError: ``message`` takes more or fewer frames than one (``not_supported``).
    """
    if len(frames) != 1:
        what = getattr(message, "name", type(message).__name__)
        raise FrameError(f"{what} is {len(frames)} {family} frames, not one", kind="not_supported")
    return frames[0]


def _by_value(message: Message | KeyPress) -> Message:
    """The reference families set every value directly: they have no keys to press."""
    if isinstance(message, StepKey | ToggleKey | TimerKey):
        raise FrameError(f"the reference protocols have no {message.name} key", kind="not_supported")
    return message


class MbinFamily(Family):
    uses_seq = True

    def framer(self, *, message_oriented: bool) -> Framer:
        return WholeChunks()

    def encode(self, message: Message | KeyPress) -> bytes:
        return mbin.encode(_by_value(message))

    def decode(self, data: bytes) -> Message:
        return mbin.decode(data)

    def request_key(self, command: Command | KeyPress) -> int | str:
        return command.seq

    def reply_key(self, report: Report) -> int | str:
        return report.seq


class MasciiFamily(Family):
    uses_seq = False

    def framer(self, *, message_oriented: bool) -> Framer:
        # a virtual link hands over whole lines, a serial port arbitrary chunks: both split the same way
        return mascii.LineSplitter()

    def encode(self, message: Message | KeyPress) -> bytes:
        return mascii.encode(_by_value(message))

    def decode(self, data: bytes) -> Message:
        return mascii.decode(data)

    def request_key(self, command: Command | KeyPress) -> int | str:
        if isinstance(command, StepKey | ToggleKey | TimerKey):
            raise FrameError(f"the reference protocols have no {command.name} key", kind="not_supported")
        return mascii.WORDS[command.name]

    def reply_key(self, report: Report) -> int | str:
        match report:
            case Ack(acked=name):
                return mascii.WORDS.get(name, ANY_COMMAND)
            case Nak(command=word):
                return word or ANY_COMMAND
            case IdentityReport():
                return mascii.WORDS["hello"]
            case StatusReport():
                return mascii.WORDS["get_status"]


def family_for(profile: DeviceProfile) -> Family:
    """A new adaptor of a model's protocol family (one per driver: a product's may remember state).

    Raises:
        ConfigError: a family the driver does not speak yet.
    """
    match profile.protocol.family:
        case "mbin":
            return MbinFamily()
        case "mascii":
            return MasciiFamily()
        case "reverie":
            from massager_ctl.drivers.reverie import ReverieFamily  # it builds on this module

            return ReverieFamily(profile)
        case "richmat":
            from massager_ctl.drivers.richmat import RichmatFamily

            return RichmatFamily(profile)
        case "theragun":
            from massager_ctl.drivers.theragun import TheragunFamily

            return TheragunFamily(profile)
        case "keeson":
            from massager_ctl.drivers.keeson import KeesonFamily

            return KeesonFamily(profile)
        case "rongtai":
            from massager_ctl.drivers.rongtai import ChairFamily

            return ChairFamily(profile)
    raise ConfigError(f"{profile.id}: protocol {profile.protocol.family}: driver not available yet")
