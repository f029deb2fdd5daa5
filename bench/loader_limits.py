"""Time and memory the routine loader spends refusing hostile files.

Writes one file per class of malformed input (a recursive alias, deep nesting,
a NUL byte, NaN and infinite durations, an alias bomb, nested repeats, a file
far over the size limit, ...), then for each prints:

- in process: how long ``load_routine`` plus planning took and the peak memory
  tracemalloc saw;
- through the real CLI (``massager-ctl routines validate FILE``): the exit code,
  the wall time and the child's peak RSS, and the first line it printed.

Each measurement runs in a child process with a timeout, so a loader that hangs
or blows up cannot take the machine with it.

Usage: ``python bench/loader_limits.py [--only NAME ...] [--timeout S]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

HEAD = "id: hostile\ntitle: Hostile\nsummary: A hostile file.\nareas: [upper-back]\ntools: [hands]\n"
STEP = "{title: a, duration: 5, prompt: {text: x}}"
STEPS = f"steps:\n  - {STEP}\n"


def recursive_alias() -> str:
    return HEAD.replace("areas: [upper-back]", "areas: &a [upper-back, *a]") + STEPS


def deep_flow() -> str:
    return HEAD + "steps: " + "[" * 10_000 + "]" * 10_000 + "\n"


def deep_block() -> str:
    return HEAD + "steps:\n  " + "- " * 2_000 + "x\n"


def deep_indent() -> str:
    return HEAD + "steps:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(300))


def nul_byte() -> str:
    return HEAD.replace("A hostile", "A\0hostile") + STEPS


def nan_duration() -> str:
    return HEAD + "steps:\n  - {title: a, duration: .nan, prompt: {text: x}}\n"


def inf_duration() -> str:
    return HEAD + "steps:\n  - {title: a, duration: .inf, prompt: {text: x}}\n"


def overflowing_duration() -> str:
    return HEAD + "steps:\n  - {title: a, duration: '" + "9" * 400 + "h', prompt: {text: x}}\n"


def nan_ramp() -> str:
    return HEAD + "steps:\n  - {title: a, duration: 5, device: {intensity: 1, ramp: .nan}}\n"


def billion_laughs() -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return HEAD + "\n".join(lines) + "\n" + STEPS


def nested_rounds() -> str:
    text = HEAD + "steps:\n"
    for level in range(7):
        pad = "  " * (2 * level)
        text += f"{pad}  - repeat: {{rounds: 20}}\n{pad}    steps:\n"
    return text + "  " * 14 + f"  - {STEP}\n"


def many_values() -> str:
    return HEAD + "steps:\n" + f"  - {STEP}\n" * 1_200


def many_steps() -> str:
    return HEAD + "steps:\n" + f"  - {STEP}\n" * 501


def at_size_limit() -> str:
    return HEAD.replace("A hostile file.", "x" * (256 * 1024 - 400)) + STEPS


def day_long() -> str:
    return HEAD + "steps:\n" + "  - {title: a, duration: 10h, prompt: {text: x}}\n" * 3


def fifty_megabytes() -> Iterator[str]:
    yield HEAD + STEPS + "# "
    for _ in range(50):  # in pieces: the bench's own memory would show in the CLI child's peak RSS
        yield "x" * 1_000_000
    yield "\n"


CLASSES: dict[str, Callable[[], str | Iterable[str]]] = {
    f.__name__: f
    for f in (
        recursive_alias,
        deep_flow,
        deep_block,
        deep_indent,
        nul_byte,
        nan_duration,
        inf_duration,
        overflowing_duration,
        nan_ramp,
        billion_laughs,
        nested_rounds,
        many_values,
        many_steps,
        at_size_limit,
        day_long,
        fifty_megabytes,
    )
}

IN_PROCESS = """
import sys, time, tracemalloc
from pathlib import Path
from massager_ctl.catalog import load_routine
from massager_ctl.errors import CatalogError

def load():
    try:
        return f"loaded, {len(load_routine(Path(sys.argv[1])).plan())} steps"
    except CatalogError as e:
        return f"refused ({len(e.problems)} problem(s))"
    except BaseException as e:
        return f"CRASHED: {type(e).__name__}"

start = time.perf_counter()
load()  # timed without tracemalloc, which slows allocation-heavy code several times over
elapsed = time.perf_counter() - start
tracemalloc.start()
outcome = load()
print(f"{elapsed * 1000:.1f}|{tracemalloc.get_traced_memory()[1] / 2**20:.2f}|{outcome}")
"""


def run_child(args: list[str], timeout: float) -> tuple[str, str, int | None, float, float]:
    """Run a child; its stdout, stderr, exit code (None on timeout), wall seconds and peak RSS in MiB."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(args, stdout=out, stderr=err)
        deadline = start + timeout
        status: int | None = None
        while True:
            pid, raw, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(raw)
                break
            if time.perf_counter() > deadline:
                child.kill()
                _, _, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.005)
        child.returncode = -1  # reaped above; keeps Popen from waiting again
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return out.read().decode(), err.read().decode(), status, elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CLASSES), help="Classes to run (default: all).")
    parser.add_argument("--timeout", type=float, default=30.0, help="Seconds before a child is killed.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = run_child([sys.executable, "-m", "massager_ctl", "--version"], options.timeout)
        print(f"CLI start-up alone: {baseline[3] * 1000:.0f} ms, {baseline[4]:.1f} MiB RSS\n")
        header = (
            f"{'class':<22}{'load ms':>9}{'peak MiB':>10}  {'exit':>4}{'CLI ms':>8}{'RSS MiB':>9}  first line"
        )
        print(header)
        for name in options.only or CLASSES:
            path = Path(tmp) / f"{name}.yaml"
            content = CLASSES[name]()
            with path.open("w", encoding="utf-8") as f:
                f.writelines([content] if isinstance(content, str) else content)
            out, _, status, elapsed, _ = run_child(
                [sys.executable, "-c", IN_PROCESS, str(path)], options.timeout
            )
            load_ms, peak, outcome = out.strip().split("|") if status == 0 else ("-", "-", "killed")
            _, err, status, elapsed, rss = run_child(
                [sys.executable, "-m", "massager_ctl", "routines", "validate", str(path)], options.timeout
            )
            first = (err.strip().splitlines() or ["(nothing)"])[0].replace(tmp + "/", "")[:90]
            code = "kill" if status is None else str(status)
            print(
                f"{name:<22}{load_ms:>9}{peak:>10}  {code:>4}{elapsed * 1000:>8.0f}{rss:>9.1f}  {first}"
                + ("" if outcome.startswith("refused") else f"  [{outcome}]")
            )


if __name__ == "__main__":
    main()
