"""Malformed and hostile routine files, one per class of attack, with where each must be refused.

Sizes are those of the attacks found (10,000-deep nesting, a 9**9 alias bomb, seven nested
``rounds: 20``), except where a smaller one already crosses the limit and the old loader
would take minutes to fail rather than seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from massager_ctl.catalog.yamlsource import MAX_FILE_BYTES

HEAD = "id: hostile\ntitle: Hostile\nsummary: A hostile file.\nareas: [upper-back]\ntools: [hands]\n"
STEP = "{title: a, duration: 5, prompt: {text: x}}"
STEPS = f"steps:\n  - {STEP}\n"


@dataclass(frozen=True)
class Hostile:
    """A file's text and the one problem it must give: ``FILE:LINE: FIELD: ...MESSAGE...``."""

    name: str
    text: str
    line: int
    field: str
    message: str

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name}.yaml"
        path.write_text(self.text, encoding="utf-8")
        return path

    def located(self, path: Path) -> str:
        return f"{path}:{self.line}: {self.field}: "


def alias_bomb(width: int, levels: int) -> str:
    """``levels`` anchors, each a list of ``width`` aliases to the one before: width**levels values."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return HEAD + STEPS + "\n".join(lines) + "\n"


def nested_rounds(levels: int, rounds: int, duration: str = "5") -> str:
    text = HEAD + "steps:\n"
    for level in range(levels):
        pad = "    " * level
        text += f"{pad}  - repeat: {{rounds: {rounds}}}\n{pad}    steps:\n"
    return text + "    " * levels + f"  - {{title: a, duration: {duration}, prompt: {{text: x}}}}\n"


def _step(duration: str, device: str = "") -> str:
    extra = f", device: {{{device}}}" if device else ""
    return HEAD + f"steps:\n  - {{title: a, duration: {duration}, prompt: {{text: x}}{extra}}}\n"


CASES = [
    Hostile(
        "recursive-alias",
        HEAD.replace("areas: [upper-back]", "areas: &a [upper-back, *a]") + STEPS,
        4,
        "areas.1",
        "an alias refers to a value that contains it",
    ),
    Hostile(
        "deep-flow",
        HEAD + "steps: " + "[" * 10_000 + "]" * 10_000 + "\n",
        6,
        "yaml",
        "nested more than 32 levels deep",
    ),
    Hostile(
        "deep-block", HEAD + "steps:\n  " + "- " * 2_000 + "x\n", 7, "yaml", "nested more than 32 levels"
    ),
    Hostile(
        "deep-indent",
        HEAD + "steps:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(300)),
        37,
        "yaml",
        "nested more than 32 levels deep",
    ),
    Hostile(
        "alias-depth",  # each alias adds depth the composer never sees
        HEAD
        + STEPS
        + "".join(f"d{i}: &d{i} [[[[[[[[{f'*d{i - 1}' if i else 'x'}]]]]]]]]\n" for i in range(6)),
        8,  # d3 is the first whose expansion is 32 deep: d0..d3 are 4 x 8 lists
        "d3" + ".0" * 31,
        "nested more than 32 levels deep",
    ),
    Hostile("nul-byte", HEAD.replace("A hostile", "A\0hostile") + STEPS, 3, "yaml", "character #x0000"),
    Hostile("nan-duration", _step(".nan"), 7, "steps.0.duration", "finite number of seconds"),
    Hostile("inf-duration", _step(".inf"), 7, "steps.0.duration", "finite number of seconds"),
    Hostile(
        "overflowing-duration", _step("9" * 400 + "h"), 7, "steps.0.duration", "finite number of seconds"
    ),
    Hostile(
        "nan-ramp",
        _step("5", "intensity: 1, ramp: .nan"),
        7,
        "steps.0.device.ramp",
        "finite number of seconds",
    ),
    Hostile("day-long-step", _step("25h"), 7, "steps.0.duration", "at most 24.0 h"),
    # an explicit tag whose text is not of its type: the constructor's own ValueError, KeyError or
    # AttributeError once escaped as a traceback
    Hostile("bad-int-tag", _step("!!int five"), 7, "steps.0.duration", "'five' is not a valid int"),
    Hostile("bad-bool-tag", _step("5", "intensity: !!bool maybe"), 7, "steps.0.device.intensity", "'maybe'"),
    Hostile(
        "bad-timestamp-tag",
        HEAD.replace("areas: [upper-back]", "areas: [!!timestamp noon]") + STEPS,
        4,
        "areas.0",
        "'noon' is not a valid timestamp",
    ),
    Hostile("alias-bomb", alias_bomb(9, 6), 8, "l3.4.8.5.3", "more than 5,000 values (aliases expanded)"),
    Hostile(
        "nested-rounds",
        nested_rounds(7, 20),
        15,
        "steps.0.steps.0.steps.0.steps.0.steps.0",
        "this block expands to 8,000 steps; a routine may have at most 500",
    ),
    Hostile(
        "too-many-steps",
        HEAD + "steps:\n" + f"  - {STEP}\n" * 501,
        6,
        "steps",
        "the routine expands to 501 steps; a routine may have at most 500",
    ),
    Hostile(
        "too-long",
        HEAD + "steps:\n" + "  - {title: a, duration: 10h, prompt: {text: x}}\n" * 3,
        6,
        "steps",
        "the routine lasts 30.0 h; a routine may last at most 24.0 h",
    ),
    Hostile(
        "too-many-values",
        HEAD + "steps:\n" + f"  - {STEP}\n" * 1_000,
        560,
        "yaml",
        "more than 5,000 values",
    ),
    Hostile(
        "too-big",
        HEAD + STEPS + "# " + "x" * MAX_FILE_BYTES + "\n",
        1,
        "file",
        f"bytes, more than the limit of {MAX_FILE_BYTES // 1024} KiB",
    ),
]
