"""Lateness of the spoken cues against the moments they belong to, in rehearsals of ``run``.

Runs ``massager-ctl run ... --yes --audio-out DIR --events FILE`` as a user
would, on the massage gun's simulator (``sim://pulse-gun-p5?link=virtual``):

- at speed 1, a short routine built here (a foam roller step, a ball head on
  each shoulder, the fork: 4 steps, 50 s);
- at speed 20, the library's ``upper-back-massage-gun`` (15 steps, four head
  changes, 585 s of routine time: about 30 s).

For each, it prints how far each cue's ``t`` (``cues.jsonl``) was from its
moment on the session clock: a step's cue against the step's ``step_started``
event, a warning against the step's end minus 10 s, the end against
``session_finished``. p50, p99 and max, in milliseconds of session time, and
in wall milliseconds (session time / speed). Negative: said before the event
(the player's timer fires at the step's deadline; the engine's event follows
a moment later).

Usage: ``python bench/cues.py [--only 1|20]``. Needs espeak-ng.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEVICE = "sim://pulse-gun-p5?link=virtual"
SHORT_ROUTINE = """\
id: cue-bench
title: Cue bench
summary: A foam roller, a ball head on each shoulder, then the fork.
areas: [upper-back]
tools: [foam-roller, electric-massager]
safety: [Never on the spine.]
steps:
  - title: Foam roller, upper back
    duration: 20
    prompt: {text: Lie on the foam roller., tool: foam-roller}
  - repeat: {sides: [left, right]}
    steps:
      - title: Ball head, {side} shoulder
        duration: 10
        device: {head: ball, intensity: 0.4}
        prompt: {text: "Rest the ball head on your {side} shoulder.", tool: electric-massager}
  - title: Fork beside the spine
    duration: 10
    device: {head: fork, intensity: 0.4}
    prompt: {text: Set the fork beside the spine., tool: electric-massager}
"""


#: A rehearsal: its events, its cues (cues.jsonl) and the wall seconds it took.
Rehearsal = tuple[list[dict[str, Any]], list[dict[str, Any]], float]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rehearse(routine: str, speed: float, work: Path) -> Rehearsal:
    """Run one voiced rehearsal of ``routine`` at ``speed``."""
    env = dict(os.environ, XDG_CONFIG_HOME=str(work / "config"), XDG_DATA_HOME=str(work / "data"))
    env.pop("MASSAGER_CONFIG", None)
    out, events = work / f"cues-{speed:g}", work / f"events-{speed:g}.jsonl"
    command = [
        sys.executable, "-m", "massager_ctl", "run", routine, "--device", DEVICE, "--speed", f"{speed:g}",
        "--yes", "--audio-out", str(out), "--events", str(events),
    ]  # fmt: skip
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    took = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"run failed ({result.returncode}): {result.stderr}")
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    cues = [json.loads(line) for line in (out / "cues.jsonl").read_text().splitlines()]
    return lines, cues, took


def lateness(events: list[dict[str, Any]], cues: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Seconds (session time) each cue came after its moment, by kind."""
    started = {e["index"]: e["session_t"] for e in events if e["type"] == "step_started"}
    finished = {e["index"]: e["session_t"] for e in events if e["type"] == "step_finished"}
    end = next(e["session_t"] for e in events if e["type"] == "session_finished")
    out: dict[str, list[float]] = {"step": [], "warning": [], "end": []}
    for cue in cues:
        if cue["kind"] == "step":
            out["step"].append(cue["t"] - started[cue["step"]])
        elif cue["kind"] == "warning":
            out["warning"].append(cue["t"] - (finished[cue["step"]] - 10))
        elif cue["kind"] == "end":
            out["end"].append(cue["t"] - end)
    return out


def report(speed: float, name: str, rehearsal: Rehearsal) -> None:
    events, cues, took = rehearsal
    print(f"speed {speed:g}: {name}, {len(cues)} cues, {took:.1f} s wall")
    for kind, values in lateness(events, cues).items():
        if not values:
            continue
        ms = [v * 1000 for v in values]
        p50, p99, worst = percentile(ms, 0.5), percentile(ms, 0.99), max(ms, key=abs)
        print(
            f"  {kind:<8} n={len(ms):<3} session ms: p50 {p50:7.1f}  p99 {p99:7.1f}  max|.| {worst:7.1f}"
            f"   wall ms: p50 {p50 / speed:6.2f}  p99 {p99 / speed:6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=float, choices=[1, 20], help="Run only the rehearsal at this speed.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cue-bench-") as tmp:
        work = Path(tmp)
        routine = work / "cue-bench.yaml"
        routine.write_text(SHORT_ROUTINE)
        if args.only in (None, 1):
            report(1, "cue-bench (4 steps, 50 s)", rehearse(str(routine), 1, work))
        if args.only in (None, 20):
            gun = "upper-back-massage-gun"
            report(20, f"{gun} (15 steps, 585 s)", rehearse(gun, 20, work))


if __name__ == "__main__":
    main()
