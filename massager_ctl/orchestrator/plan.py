"""Resolve a routine against one model and the user's caps, and pre-flight it.

:func:`resolve` turns each planned step into the device state that should hold
during it (settings a step leaves out carry over from the step before), mapped
to the model's own heads, levels and heat codes, with the user's caps applied.
:func:`preflight` lists every reason the routine cannot run as written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from massager_ctl.config import Caps
from massager_ctl.errors import PreflightError
from massager_ctl.models import DeviceProfile, HeadSpec, PlannedStep, Routine

#: Seconds per intensity level when a step does not say how long to ramp.
DEFAULT_RAMP_S_PER_LEVEL = 0.5


@dataclass(frozen=True, slots=True)
class ResolvedStep:
    """One step with the model's own values; ``None`` fields leave the device as it is."""

    index: int
    title: str
    duration_s: float
    planned_start_s: float
    head: HeadSpec | None
    level: int | None
    heat: int | None
    mode: str | None
    direction: str | None
    ramp_s: float | None
    prompt: str | None
    tool: str | None
    area: str | None
    side: str | None
    confirm: bool

    @property
    def end_s(self) -> float:
        return self.planned_start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class Plan:
    """A routine resolved for one model and one set of caps."""

    routine: Routine
    profile: DeviceProfile
    caps: Caps
    steps: list[ResolvedStep]
    problems: list[str]

    @property
    def duration_s(self) -> float:
        return self.steps[-1].end_s if self.steps else 0.0

    @property
    def max_level(self) -> int:
        """The highest level the caps allow on this model."""
        return cap_level(self.profile, self.caps)

    @property
    def heat_budget_s(self) -> float:
        """Seconds of heat the routine plans in total: the engine never gives more."""
        return sum(s.duration_s for s in self.steps if s.heat)

    def heat_name(self, code: int | None) -> str | None:
        if code is None or self.profile.heat is None:
            return None
        return self.profile.heat.levels[code]


def cap_level(profile: DeviceProfile, caps: Caps) -> int:
    """The user's intensity cap as a level of this model, at least 1 (a cap below it fails pre-flight)."""
    return max(1, _capped(profile, caps))


def _capped(profile: DeviceProfile, caps: Caps) -> int:
    return math.floor(caps.max_intensity * profile.intensity.max_level + 1e-9)


def _cap_reaches_level_1(profile: DeviceProfile, caps: Caps) -> bool:
    return _capped(profile, caps) >= 1


def resolve(routine: Routine, profile: DeviceProfile, caps: Caps) -> Plan:
    """Resolve every step, collecting problems instead of stopping at the first.

    Values that cannot be mapped (an unknown head, heat on a model without it)
    resolve to ``None`` and are reported in ``Plan.problems``.
    """
    problems: list[str] = []
    steps: list[ResolvedStep] = []
    top = cap_level(profile, caps)
    head: HeadSpec | None = None
    level: int | None = None
    heat: int | None = None
    mode: str | None = None
    direction: str | None = None

    for kind in routine.requires.head_kinds:
        if profile.head(kind) is None:
            problems.append(f"the routine needs a {kind!r} head; {profile.id} has {_heads(profile)}")
    if routine.requires.heat and profile.heat is None:
        problems.append(f"the routine needs heat; {profile.id} has no heater")
    elif routine.requires.heat and not caps.heat_allowed:
        problems.append("the routine needs heat, but your settings do not allow heat (caps.heat_allowed)")

    for planned in routine.plan():
        where = f"step {planned.index + 1} {planned.title!r}"
        settings = planned.device
        ramp: float | None = None
        if settings is not None:
            ramp = settings.ramp
            if settings.head is not None:
                head = profile.head(settings.head)
                if head is None:
                    problems.append(
                        f"{where}: {profile.id} has no head {settings.head!r} ({_heads(profile)})"
                    )
            if settings.intensity is not None:
                level = _level(settings.intensity, profile, caps, top, where, problems)
            if settings.heat is not None:
                heat = _heat(settings.heat, profile, caps, where, problems)
            if settings.mode is not None:
                mode = settings.mode
                if mode not in profile.modes:
                    problems.append(
                        f"{where}: {profile.id} has no mode {mode!r} (modes: {', '.join(profile.modes)})"
                    )
            if settings.direction is not None:
                direction = settings.direction
                if direction not in profile.directions:
                    problems.append(f"{where}: {profile.id} cannot turn {direction!r}" + _directions(profile))
        steps.append(_step(planned, head, level, heat, mode, direction, ramp))

    _check_heat_runs(steps, profile, problems)
    total = steps[-1].end_s if steps else 0.0
    if total > caps.max_session_minutes * 60:
        problems.append(
            f"the routine lasts {_mmss(total)}, longer than your cap of {caps.max_session_minutes:g} min"
            " (caps.max_session_minutes)"
        )
    return Plan(routine=routine, profile=profile, caps=caps, steps=steps, problems=problems)


def preflight(routine: Routine, profile: DeviceProfile, caps: Caps) -> Plan:
    """Resolve the routine and refuse it if anything does not fit.

    Raises:
        PreflightError: every problem found, one message each.
    """
    plan = resolve(routine, profile, caps)
    if plan.problems:
        raise PreflightError(plan.problems)
    return plan


def _step(
    planned: PlannedStep,
    head: HeadSpec | None,
    level: int | None,
    heat: int | None,
    mode: str | None,
    direction: str | None,
    ramp: float | None,
) -> ResolvedStep:
    prompt = planned.prompt
    return ResolvedStep(
        index=planned.index,
        title=planned.title,
        duration_s=planned.duration_s,
        planned_start_s=planned.planned_start_s,
        head=head,
        level=level,
        heat=heat,
        mode=mode,
        direction=direction,
        ramp_s=ramp,
        prompt=prompt.text if prompt else None,
        tool=prompt.tool if prompt else None,
        area=prompt.area if prompt else None,
        side=(prompt.side if prompt else None) or planned.side,
        confirm=planned.confirm,
    )


def _level(
    value: int | float, profile: DeviceProfile, caps: Caps, top: int, where: str, problems: list[str]
) -> int:
    if isinstance(value, int) and value > profile.intensity.max_level:
        problems.append(
            f"{where}: intensity {value} is above {profile.id}'s top level {profile.intensity.max_level}"
        )
    level = profile.intensity.level_for(value)
    if level > 0 and not _cap_reaches_level_1(profile, caps):
        lowest = 100 / profile.intensity.max_level
        problems.append(
            f"{where}: intensity {value} runs the motor, but {profile.id}'s lowest level (1 of"
            f" {profile.intensity.max_level}, {lowest:.0f}%) is above your cap of {caps.max_intensity:.0%}"
            " (caps.max_intensity)"
        )
        return min(level, top)
    if level > top:
        problems.append(
            f"{where}: intensity {value} is level {level} of {profile.intensity.max_level},"
            f" above your cap of level {top} (caps.max_intensity)"
        )
    return min(level, top)


def _heat(name: str, profile: DeviceProfile, caps: Caps, where: str, problems: list[str]) -> int | None:
    if name == "off":
        return 0
    if profile.heat is None:
        problems.append(f"{where}: heat {name!r} but {profile.id} has no heater")
        return None
    if name not in profile.heat.levels:
        problems.append(
            f"{where}: {profile.id} has no heat level {name!r} ({', '.join(profile.heat.levels)})"
        )
        return None
    if not caps.heat_allowed:
        problems.append(f"{where}: heat {name!r}, but your settings do not allow heat (caps.heat_allowed)")
        return None
    return profile.heat.code_for(name)


def _check_heat_runs(steps: list[ResolvedStep], profile: DeviceProfile, problems: list[str]) -> None:
    if profile.heat is None:
        return
    if profile.heat.with_motor_only:
        problems.extend(
            f"step {step.index + 1}: heat {profile.heat.levels[step.heat]!r} with the motor off, but"
            f" {profile.id} heats only while its massage runs"
            for step in steps
            if step.heat and not step.level
        )
    limit = profile.heat.max_on_s
    run_start: ResolvedStep | None = None
    run_s = 0.0
    for step in [*steps, None]:
        if step is not None and step.heat:
            run_start = run_start or step
            run_s += step.duration_s
            continue
        if run_start is not None and run_s > limit:
            last = step.index if step is not None else len(steps)  # 1-based number of the run's last step
            problems.append(
                f"steps {run_start.index + 1}–{last} keep heat on for {_mmss(run_s)} in a row;"
                f" {profile.id} allows at most {_mmss(limit)} (heat.max_on_s {limit})"
            )
        run_start, run_s = None, 0.0


def _heads(profile: DeviceProfile) -> str:
    return "heads: " + ", ".join(f"{h.id} ({h.kind})" for h in profile.heads)


def _directions(profile: DeviceProfile) -> str:
    return (
        f" (directions: {', '.join(profile.directions)})" if profile.directions else " (no direction control)"
    )


def _mmss(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"
