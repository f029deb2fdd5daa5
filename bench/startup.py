"""Start-up time of ``massager-ctl --help`` next to a bare import of its three main libraries.

Both are measured in the same run, alternating, as the median wall time of several
fresh processes each, so machine load affects both alike. The goal is a ratio of
at most 1.5: the CLI should cost little more than the libraries it is built on.

    .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

BASELINE = [sys.executable, "-c", "import typer, rich.console, pydantic"]
HELP = [sys.executable, "-m", "massager_ctl", "--help"]
GOAL = 1.5


def wall_time(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="processes per command (default 15)")
    args = parser.parse_args()
    for command in (BASELINE, HELP):  # warm the file cache and the bytecode caches first
        wall_time(command)
    baseline: list[float] = []
    cli: list[float] = []
    for _ in range(args.runs):
        baseline.append(wall_time(BASELINE))
        cli.append(wall_time(HELP))
    base_s, cli_s = statistics.median(baseline), statistics.median(cli)
    ratio = cli_s / base_s
    runs = f"({args.runs} runs)"
    print(f"python -c 'import typer, rich.console, pydantic'  median {base_s * 1000:6.1f} ms {runs}")
    print(f"massager-ctl --help                              median {cli_s * 1000:6.1f} ms {runs}")
    print(f"ratio {ratio:.2f} (goal <= {GOAL}): {'ok' if ratio <= GOAL else 'over the goal'}")


if __name__ == "__main__":
    main()
