"""Routine: a timed list of steps, each with device settings and/or a prompt.

One YAML file in ``routines/`` validates into one :class:`Routine`. Blocks of
steps repeat per side (``{side}`` in texts is filled in) or for N rounds, and
:meth:`Routine.plan` flattens them into the :class:`PlannedStep` list that the
orchestrator runs.

Numbers must be finite, and a routine is bounded as written: at most
:data:`MAX_PLANNED_STEPS` steps and :data:`MAX_ROUTINE_S` seconds once its
repeats are expanded, checked without expanding them.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    field_validator,
    model_validator,
)

#: Most steps a routine may plan, repeats expanded (shipped routines plan at most 28).
MAX_PLANNED_STEPS = 500
#: Longest a routine (or any one duration in it) may last: a day.
MAX_ROUTINE_S = 24 * 3600.0

Tool = Literal[
    "hands",
    "tennis-ball",
    "massage-ball",
    "foam-roller",
    "heated-towel",
    "oil",
    "electric-massager",
    "pillow",
    "sock",
    "chair",
    "wall",
]
Side = Literal["left", "right", "both"]

_DURATION = re.compile(
    r"^\s*(?:(?P<h>\d+(?:\.\d+)?)h)?\s*(?:(?P<m>\d+(?:\.\d+)?)m)?\s*(?:(?P<s>\d+(?:\.\d+)?)s)?\s*$"
)


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as ``"90s"``, ``"2m"``, ``"1m30s"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '90s' or '2m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)) and any(match.groupdict().values()):
        parts = match.groupdict()
        seconds = sum(float(parts[u] or 0) * k for u, k in (("h", 3600), ("m", 60), ("s", 1)))
    else:
        raise ValueError(
            f"{value!r} is not a duration: use seconds (90) or a string like '90s', '2m', '1m30s'"
        )
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds")
    if seconds <= 0:
        raise ValueError("a duration must be more than 0 seconds")
    if seconds > MAX_ROUTINE_S:
        raise ValueError(f"a duration must be at most {_hours(MAX_ROUTINE_S)} ({MAX_ROUTINE_S:g} s)")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def parse_intensity(value: object) -> int | float:
    """A level (a whole number 0–100) or a fraction of the model's range (0.0–1.0)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
        return value
    if isinstance(value, float) and 0.0 <= value <= 1.0:
        return value
    raise ValueError(
        f"{value!r} is not an intensity: use a level (a whole number 0–100) or a fraction from 0.0 to 1.0"
    )


Intensity = Annotated[int | float, BeforeValidator(parse_intensity)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StepSettings(_Strict):
    """What the device should do during a step; anything left out stays as it is."""

    head: str | None = Field(
        None, description="A head kind (ball, fork, zone-upper, ...) or a model's head id."
    )
    intensity: Intensity | None = Field(
        None, description="A level (integer) or a fraction of the model's range (0.0–1.0)."
    )
    heat: str | None = Field(None, description="A heat level name: off, low, high.")
    mode: str | None = None
    direction: str | None = None
    ramp: Duration | None = Field(None, description="Seconds to ramp intensity to its new value.")


class Prompt(_Strict):
    """What the person does: a plain instruction, the tool, the body area and side."""

    text: str = Field(min_length=1)
    tool: Tool | None = None
    area: str | None = None
    side: Side | None = None


class Step(_Strict):
    title: str = Field(min_length=1)
    duration: Duration
    device: StepSettings | None = None
    prompt: Prompt | None = None
    confirm: StrictBool = Field(False, description="Wait for the person before the step's time starts.")

    @model_validator(mode="after")
    def _does_something(self) -> Step:
        if self.device is None and self.prompt is None:
            raise ValueError("a step needs device settings, a prompt, or both")
        return self


class Repeat(_Strict):
    sides: list[Literal["left", "right"]] | None = Field(None, min_length=1)
    rounds: int | None = Field(None, ge=1, le=20)

    @model_validator(mode="after")
    def _one_kind(self) -> Repeat:
        if (self.sides is None) == (self.rounds is None):
            raise ValueError("repeat needs exactly one of 'sides' or 'rounds'")
        return self

    @property
    def times(self) -> int:
        return len(self.sides) if self.sides is not None else self.rounds or 1


class Block(_Strict):
    """Steps repeated per side or for a number of rounds."""

    repeat: Repeat
    steps: list[StepOrBlock] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounded(self) -> Block:
        # nested blocks validate first, so the innermost block over a limit is the one reported
        _check_size(self.steps, self.repeat.times, "this block")
        return self


def _step_or_block(value: Any) -> str:
    return "block" if isinstance(value, dict) and "repeat" in value else "step"


StepOrBlock = Annotated[
    Annotated[Step, Tag("step")] | Annotated[Block, Tag("block")],
    Discriminator(_step_or_block),
]
Block.model_rebuild()


class Requirements(_Strict):
    heat: bool = False
    head_kinds: list[str] = Field(default_factory=list)
    device: bool = Field(False, description="The routine needs an electric massager at all.")


class PlannedStep(BaseModel):
    """A concrete step after repeats are expanded: what the orchestrator runs."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    index: int
    title: str
    duration_s: float
    planned_start_s: float
    device: StepSettings | None
    prompt: Prompt | None
    confirm: bool
    side: Literal["left", "right"] | None = None
    round: int | None = None


class Routine(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    areas: list[str] = Field(min_length=1)
    tools: list[Tool] = Field(min_length=1)
    requires: Requirements = Requirements()
    safety: list[str] = Field(default_factory=list)
    oils: list[str] = Field(default_factory=list, description="Optional oils suggested for this routine.")
    steps: list[StepOrBlock] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _bounded(cls, steps: list[Step | Block]) -> list[Step | Block]:
        _check_size(steps, 1, "the routine")
        return steps

    def plan(self) -> list[PlannedStep]:
        """Expand repeat blocks into the flat, timed list of steps."""
        planned: list[PlannedStep] = []
        _expand(self.steps, planned, side=None, round_=None)
        return planned

    @property
    def duration_s(self) -> float:
        return sum(step.duration_s for step in self.plan())


def _expand(
    items: list[Step | Block],
    out: list[PlannedStep],
    *,
    side: Literal["left", "right"] | None,
    round_: int | None,
) -> None:
    for item in items:
        if isinstance(item, Block):
            if item.repeat.sides is not None:
                for each_side in item.repeat.sides:
                    _expand(item.steps, out, side=each_side, round_=round_)
            else:
                for number in range(1, (item.repeat.rounds or 1) + 1):
                    _expand(item.steps, out, side=side, round_=number)
            continue
        start = out[-1].planned_start_s + out[-1].duration_s if out else 0.0
        prompt = item.prompt
        if prompt is not None and side is not None:
            prompt = prompt.model_copy(
                update={"text": _fill(prompt.text, side, round_), "side": prompt.side or side}
            )
        elif prompt is not None and round_ is not None:
            prompt = prompt.model_copy(update={"text": _fill(prompt.text, side, round_)})
        out.append(
            PlannedStep(
                index=len(out),
                title=_fill(item.title, side, round_),
                duration_s=item.duration,
                planned_start_s=start,
                device=item.device,
                prompt=prompt,
                confirm=item.confirm,
                side=side,
                round=round_,
            )
        )


def _check_size(items: list[Step | Block], times: int, what: str) -> None:
    steps, seconds = _size(items)
    steps, seconds = steps * times, seconds * times
    if steps > MAX_PLANNED_STEPS:
        raise ValueError(
            f"{what} expands to {steps:,} steps; a routine may have at most {MAX_PLANNED_STEPS:,}"
        )
    if seconds > MAX_ROUTINE_S:
        raise ValueError(
            f"{what} lasts {_hours(seconds)}; a routine may last at most {_hours(MAX_ROUTINE_S)}"
        )


def _size(items: list[Step | Block]) -> tuple[int, float]:
    """Steps and seconds once repeats are expanded, counted without expanding them."""
    steps, seconds = 0, 0.0
    for item in items:
        if isinstance(item, Block):
            inner_steps, inner_seconds = _size(item.steps)
            steps += inner_steps * item.repeat.times
            seconds += inner_seconds * item.repeat.times
        else:
            steps += 1
            seconds += item.duration
    return steps, seconds


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h"


def _fill(text: str, side: str | None, round_: int | None) -> str:
    if side is not None:
        text = text.replace("{side}", side)
    if round_ is not None:
        text = text.replace("{round}", str(round_))
    return text
