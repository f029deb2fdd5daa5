"""A routine's timeline on one model, from its resolved plan.

Three lanes share one time axis in minutes: the intensity level of every step,
coloured by the head or zone it runs on, with a mark where the head changes;
the heat, one span per stretch at one level; and the person's part, one bar per
prompt with a mark where the timer waits for them to confirm.

Every drawn element carries an id in the SVG (``step-N``, ``heat-N``,
``head-change-N``, ``confirm-N``, ``prompt-N``, N counting from 1 as the
steps do), so the page can find them and tests can check them.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from massager_ctl.models import HeadSpec
from massager_ctl.orchestrator.plan import Plan, ResolvedStep
from massager_ctl.pictures import PictureFormat
from massager_ctl.pictures.render import GRID, MUTED, TEXT, draw, mmss

# Okabe–Ito-like hues that stay apart for colour-blind readers; heat has the warm ones to itself
HEAD_COLOURS = ["#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#7B5EA7", "#999933", "#117733", "#332288"]
HEAT_COLOURS = ["#FDD49E", "#FC8D59", "#D7301F", "#990000"]
PROMPT_COLOURS = ["#9E9E9E", "#C4C4C4"]
HEIGHT_IN = 6.4
#: A label is written inside a span only when the span is at least this share of the routine.
LABEL_MIN_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class HeatRun:
    """Consecutive steps at one heat level."""

    start_s: float
    end_s: float
    code: int
    name: str


def heat_runs(plan: Plan) -> list[HeatRun]:
    """The stretches of the plan with heat on, one per level held."""
    runs: list[HeatRun] = []
    for step in plan.steps:
        if not step.heat:
            continue
        if runs and runs[-1].end_s == step.planned_start_s and runs[-1].code == step.heat:
            last = runs[-1]
            runs[-1] = HeatRun(last.start_s, step.end_s, last.code, last.name)
        else:
            runs.append(HeatRun(step.planned_start_s, step.end_s, step.heat, plan.heat_name(step.heat) or ""))
    return runs


def head_changes(plan: Plan) -> list[ResolvedStep]:
    """The steps that move to another head or zone than the one before (the model starts on its default)."""
    changes: list[ResolvedStep] = []
    current = plan.profile.default_head
    for step in plan.steps:
        if step.head is not None and step.head.id != current:
            changes.append(step)
            current = step.head.id
    return changes


def waits(plan: Plan) -> list[ResolvedStep]:
    """The steps whose time starts only when the person confirms: asked to, or to fit a head by hand."""
    fitted = {s.index for s in head_changes(plan) if s.head is not None and s.head.change == "manual"}
    return [s for s in plan.steps if s.confirm or s.index in fitted]


def draw_timeline(plan: Plan, *, fmt: PictureFormat) -> bytes:
    """The plan's timeline as ``fmt`` bytes."""
    return draw(lambda figure: _build(figure, plan), height_in=HEIGHT_IN, fmt=fmt)


def _build(figure: Figure, plan: Plan) -> None:
    level_ax, heat_ax, person_ax = figure.subplots(
        3, 1, sharex=True, gridspec_kw={"height_ratios": [4.0, 1.0, 1.2]}
    )
    figure.suptitle(textwrap.fill(plan.routine.title, 32))
    level_ax.set_title(f"{plan.profile.name} · {mmss(plan.duration_s)}", loc="left", color=MUTED)
    colours = {head.id: HEAD_COLOURS[i % len(HEAD_COLOURS)] for i, head in enumerate(plan.profile.heads)}
    shown_heads = _intensity_lane(level_ax, plan, colours)
    _heat_lane(heat_ax, plan)
    has_waits = _person_lane(person_ax, plan)

    total_min = max(plan.duration_s / 60, 1 / 60)
    person_ax.set_xlim(0, total_min)
    person_ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, steps=[1, 2, 5, 10]))
    person_ax.set_xlabel("minutes")

    handles: list[Patch | Line2D] = [
        Patch(facecolor=colours[head.id], label=head.name) for head in shown_heads
    ]
    if head_changes(plan):
        zones = all(head.change == "motorized" for head in plan.profile.heads)
        handles.append(_marker_handle("D", "zone change" if zones else "head change"))
    if has_waits:
        handles.append(_marker_handle("v", "waits for you"))
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)


def _intensity_lane(ax: Axes, plan: Plan, colours: dict[str, str]) -> list[HeadSpec]:
    """Draw one bar per step; return the heads the motor runs on, in the model's order."""
    top = plan.profile.intensity.max_level
    used: set[str] = set()
    for step in plan.steps:
        level = step.level or 0
        head = step.head.id if step.head is not None else plan.profile.default_head
        if level:
            used.add(head)
        ax.add_patch(
            Rectangle(
                (step.planned_start_s / 60, 0),
                step.duration_s / 60,
                level,
                facecolor=colours[head],
                edgecolor="white",
                linewidth=0.8,
                gid=f"step-{step.index + 1}",
            )
        )
    for change in head_changes(plan):
        assert change.head is not None  # head_changes only returns steps that set a head
        used.add(change.head.id)
        ax.plot(
            change.planned_start_s / 60,
            1.0,
            marker="D",
            markersize=9,
            markerfacecolor=colours[change.head.id],
            markeredgecolor=TEXT,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            gid=f"head-change-{change.index + 1}",
        )
    if plan.max_level < top:
        ax.axhline(plan.max_level, color=MUTED, linestyle="--", linewidth=1.2, gid="cap")
        ax.text(
            1.0,
            plan.max_level,
            "your cap ",
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="bottom",
            color=MUTED,
            fontsize=12,
            gid="cap-label",
        )
    if not used:
        ax.text(
            0.5,
            0.5,
            "device idle",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color=MUTED,
            gid="idle",
        )
    ax.set_ylim(0, top)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.set_ylabel("level")
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", length=0)
    return [head for head in plan.profile.heads if head.id in used]


def _heat_lane(ax: Axes, plan: Plan) -> None:
    runs = heat_runs(plan)
    codes = len(plan.profile.heat.levels) if plan.profile.heat else 2
    for number, run in enumerate(runs, start=1):
        shade = HEAT_COLOURS[min(len(HEAT_COLOURS) - 1, (run.code - 1) * len(HEAT_COLOURS) // (codes - 1))]
        width = (run.end_s - run.start_s) / 60
        ax.add_patch(
            Rectangle(
                (run.start_s / 60, 0.1), width, 0.8, facecolor=shade, edgecolor="white", gid=f"heat-{number}"
            )
        )
        if run.end_s - run.start_s >= LABEL_MIN_SHARE * plan.duration_s:
            ax.text(
                (run.start_s + run.end_s) / 120,
                0.5,
                f"{run.name} {mmss(run.end_s - run.start_s)}",
                ha="center",
                va="center",
                fontsize=12,
                gid=f"heat-label-{number}",
            )
    if not runs:
        message = "no heat" if plan.profile.heat else "no heater"
        ax.text(
            0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color=MUTED, gid="no-heat"
        )
    _lane(ax, "heat", bottom=False)


def _person_lane(ax: Axes, plan: Plan) -> bool:
    """Draw the prompts and the waits; return whether the routine waits for the person at all."""
    prompts = [step for step in plan.steps if step.prompt]
    for shade, step in enumerate(prompts):
        ax.add_patch(
            Rectangle(
                (step.planned_start_s / 60, 0.1),
                step.duration_s / 60,
                0.6,
                facecolor=PROMPT_COLOURS[shade % 2],
                edgecolor="white",
                linewidth=0.8,
                gid=f"prompt-{step.index + 1}",
            )
        )
    waiting = waits(plan)
    for step in waiting:
        ax.plot(
            step.planned_start_s / 60,
            0.86,
            marker="v",
            markersize=9,
            color=TEXT,
            clip_on=False,
            gid=f"confirm-{step.index + 1}",
        )
    if not prompts:
        ax.text(0.5, 0.4, "no prompts", transform=ax.transAxes, ha="center", va="center", color=MUTED)
    _lane(ax, "you", bottom=True)
    return bool(waiting)


def _lane(ax: Axes, label: str, *, bottom: bool) -> None:
    ax.set_ylim(0, 1)
    ax.set_yticks([0.45], [label])
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    if not bottom:  # only the bottom lane carries the time axis
        ax.spines["bottom"].set_visible(False)
        ax.tick_params(axis="x", length=0)


def _marker_handle(marker: str, label: str) -> Line2D:
    return Line2D(
        [],
        [],
        linestyle="none",
        marker=marker,
        markersize=9,
        color=TEXT,
        markerfacecolor="white" if marker == "D" else TEXT,
        label=label,
    )
