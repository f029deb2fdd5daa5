"""What a session says, and when: every spoken cue of a routine, worked out from its resolved plan.

The texts are known before the session starts, so they can all be synthesised
ahead of time. Each :class:`Cue` names its ``trigger`` (the moment it is due:
a step's start, ten seconds before a step ends, a pause, the end) and its
``kind`` (what it says). A cue sheet is built by a list of :data:`CueRule`
functions; a device that needs more said (``manual://``: "set the speed to 2")
adds a rule that returns ``Cue(kind="instruction", trigger="step_start", ...)``
and the player speaks it with no change.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from massager_ctl.events import SessionStatus
from massager_ctl.orchestrator.plan import Plan, ResolvedStep

#: Seconds before a step's end at which the warning (chime and "ten seconds ...") is due.
WARN_S = 10.0
#: A step shorter than this gets no warning: it would talk over the step's own start.
MIN_WARNED_STEP_S = 20.0

CueKind = Literal[
    "safety",
    "step",
    "heat",
    "instruction",
    "head_change",
    "confirm",
    "warning",
    "paused",
    "resumed",
    "suspended",
    "reconnected",
    "notice",
    "end",
]
Trigger = Literal[
    "before",
    "step_start",
    "head_change",
    "confirm",
    "warning",
    "paused",
    "resumed",
    "suspended",
    "reconnected",
    "notice",
    "end",
]


@dataclass(frozen=True, slots=True)
class Cue:
    """One thing to say.

    Attributes:
        kind: what it says.
        text: the words.
        trigger: the moment it is due.
        key: the step index for step cues, the session status for ``end``, else ``None``.
        chime: play a chime before the words (the warning before a step ends).
    """

    kind: CueKind
    text: str
    trigger: Trigger
    key: int | str | None = None
    chime: bool = False


#: Builds some of a plan's cues.
CueRule = Callable[[Plan], Iterable[Cue]]


@dataclass(frozen=True, slots=True)
class CueSheet:
    """Every cue of one session, in the order they are first needed."""

    cues: tuple[Cue, ...]

    def at(self, trigger: Trigger, key: int | str | None = None) -> list[Cue]:
        """The cues due at ``trigger`` (for step ``key``), in the order to say them."""
        return [c for c in self.cues if c.trigger == trigger and c.key == key]

    def unique(self) -> list[Cue]:
        """One cue per distinct sound (text and chime), first needed first: what to synthesise."""
        seen: set[tuple[str, bool]] = set()
        out: list[Cue] = []
        for cue in self.cues:
            if (cue.text, cue.chime) not in seen:
                seen.add((cue.text, cue.chime))
                out.append(cue)
        return out


def safety_cues(plan: Plan) -> Iterable[Cue]:
    """The routine's safety notes, said before the session starts."""
    if plan.routine.safety:
        notes = " ".join(_sentence(note) for note in plan.routine.safety)
        yield Cue("safety", f"Before we start. {notes}", "before")


def step_cues(plan: Plan) -> Iterable[Cue]:
    """Each step's title and prompt, at its start."""
    for step in plan.steps:
        text = _sentence(step.title)
        if step.prompt:
            text += " " + _sentence(step.prompt)
        yield Cue("step", text, "step_start", step.index)


def heat_cues(plan: Plan) -> Iterable[Cue]:
    """Say "heat on" or "heat off" at the start of each step that changes the heat."""
    current = 0
    for step in plan.steps:
        if step.heat is None or step.heat == current:
            continue
        text = f"Heat on, {plan.heat_name(step.heat)}." if step.heat else "Heat off."
        current = step.heat
        yield Cue("heat", text, "step_start", step.index)


def wait_cues(plan: Plan) -> Iterable[Cue]:
    """What to say when a step waits for the person: fit a head, or confirm."""
    for step in plan.steps:
        if step.head is not None and step.head.change == "manual":
            yield Cue("head_change", f"Fit {_head_name(step)}, then confirm.", "head_change", step.index)
        if step.confirm:
            yield Cue("confirm", "Confirm when you are ready.", "confirm", step.index)


def warning_cues(plan: Plan) -> Iterable[Cue]:
    """A chime and "ten seconds, then ..." before each step of at least :data:`MIN_WARNED_STEP_S` ends."""
    steps = plan.steps
    for step, after in zip(steps, [*steps[1:], None], strict=True):
        if step.duration_s >= MIN_WARNED_STEP_S:
            yield Cue("warning", f"Ten seconds, {_then(step, after)}.", "warning", step.index, chime=True)


def state_cues(plan: Plan) -> Iterable[Cue]:
    """Pause, resume, a lost and a regained link."""
    yield Cue("paused", "Paused.", "paused")
    yield Cue("resumed", "Resuming.", "resumed")
    yield Cue("suspended", "The connection to the massager was lost. Reconnecting.", "suspended")
    yield Cue("reconnected", "Reconnected. Carrying on.", "reconnected")


_ENDINGS: dict[SessionStatus, str] = {
    "completed": "Session complete. Well done.",
    "stopped": "Session stopped.",
    "aborted": "The session ended early: the massager could not be reached.",
    "failed": "The session ended with an error. Check the massager.",
}


def end_cues(plan: Plan) -> Iterable[Cue]:
    """What to say when the session ends, one per way it can end."""
    for status, text in _ENDINGS.items():
        yield Cue("end", text, "end", status)


def manual_cues(plan: Plan) -> Iterable[Cue]:
    """On a massager the person sets by hand (``manual://``): each setting as a spoken instruction.

    A speed change is said at the step's start; a heat change is said while the session waits for the
    person's confirm (the engine waits for one there); at the end, to switch the massager off.
    """
    if not plan.profile.set_by_person:
        return
    level, heat = 0, 0
    for step in plan.steps:
        if step.level is not None and step.level != level:
            level = step.level
            text = f"Set the speed to {level}." if level else "Switch the motor off."
            yield Cue("instruction", text, "step_start", step.index)
        if step.heat is not None and step.heat != heat:
            heat = step.heat
            text = f"switch the heat to {plan.heat_name(heat)}" if heat else "switch the heat off"
            fitted = step.head is not None and step.head.change == "manual"
            waits_for: Trigger = "head_change" if fitted else "confirm"
            said = f"And {text}." if fitted else f"{text[:1].upper()}{text[1:]}, then confirm."
            yield Cue("instruction", said, waits_for, step.index)
    for status in _ENDINGS:
        yield Cue("instruction", "Switch the massager off now.", "end", status)


DEFAULT_RULES: tuple[CueRule, ...] = (
    safety_cues,
    step_cues,
    heat_cues,
    wait_cues,
    warning_cues,
    state_cues,
    end_cues,
    manual_cues,
)


def plan_cues(plan: Plan, *, rules: Sequence[CueRule] = DEFAULT_RULES) -> CueSheet:
    """Every cue of a session running ``plan``, ordered by when it is first needed.

    Cues due at the same moment keep the order of ``rules`` (a step's title
    before its heat change).
    """
    cues = [cue for rule in rules for cue in rule(plan)]
    return CueSheet(tuple(sorted(cues, key=_need_order)))


def notice_cue(message: str) -> Cue:
    """A warning the session raised while it ran (its words are only known then: synthesised late)."""
    text = _sentence(message)
    return Cue("notice", text[:1].upper() + text[1:], "notice")


def _need_order(cue: Cue) -> float:
    if cue.trigger == "before":
        return -1.0
    if isinstance(cue.key, int):
        return float(cue.key)
    if cue.trigger == "end":
        return float("inf")
    return 0.5  # pause, resume, reconnect: possible from the first step on


def _then(step: ResolvedStep, after: ResolvedStep | None) -> str:
    """What comes next, in a few words: the part of the warning after "ten seconds"."""
    if after is None:
        return "then the session ends"
    if after.head is not None and after.head.change == "manual" and after.head != step.head:
        # before the routine's first head nobody knows what is fitted: name it, the session asks if needed
        return f"then {'fit ' if step.head is not None else ''}{_head_name(after)}"
    if step.side in ("left", "right") and after.side in ("left", "right") and step.side != after.side:
        return "then switch sides"
    if after.tool is not None and after.tool != step.tool:
        return f"then the {after.tool.replace('-', ' ')}"
    return f"then {_lower_first(_clause(after.title))}"


def _head_name(step: ResolvedStep) -> str:
    assert step.head is not None
    name = step.head.name.lower()
    return f"the {name}" if name.endswith("head") else f"the {name} head"


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def _clause(text: str) -> str:
    return " ".join(text.split()).rstrip(".!?")


def _lower_first(text: str) -> str:
    # "Rest, round 1" -> "rest, round 1"; keep acronyms and names that start with two capitals
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text
