"""Pre-flight problems as a person reads them: each one once."""

from __future__ import annotations

import re

_STEP_PROBLEM = re.compile(r"step (?P<number>\d+) (?P<title>'[^']*'|\"[^\"]*\"): (?P<message>.+)", re.DOTALL)


def merge_problems(problems: list[str]) -> list[str]:
    """Each problem once: the same problem at several steps (a repeated block) becomes one line."""
    steps: dict[str, list[tuple[str, str]]] = {}
    order: list[str] = []
    for problem in problems:
        match = _STEP_PROBLEM.fullmatch(problem)
        key = match["message"] if match else problem
        if key not in steps:
            steps[key] = []
            order.append(key)
        if match:
            steps[key].append((match["number"], match["title"]))
    merged = []
    for key in order:
        where = steps[key]
        if not where:
            merged.append(key)
        elif len({title for _, title in where}) == 1:
            numbers = ", ".join(number for number, _ in where)
            merged.append(f"step{'s' if len(where) > 1 else ''} {numbers} {where[0][1]}: {key}")
        else:
            merged.append("steps " + ", ".join(f"{n} {t}" for n, t in where) + f": {key}")
    return merged
