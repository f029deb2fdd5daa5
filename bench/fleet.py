"""Many sessions in one controller process, against simulators in another.

For each N (default 100, 300 and 1000) this starts a simulator process holding N
``serial-cushion-z3`` simulators, each on its own TCP port, then runs N sessions
of the same routine in this process, one per simulator, their starts staggered
evenly over one step length. It prints, for each N: step-start lateness (p50,
p99, max, against each step's planned start), the controller's CPU time per
session-second, and its resident memory per session; and whether the goals of
issue 15 are met (p99 <= 10 ms, <= 0.1 ms CPU per session-second, <= 0.15 MiB per
session). Where one is not, the largest N is run again under cProfile and the
functions that dominate are printed.

Usage: ``python bench/fleet.py [--sizes 100,300,1000] [--steps 5] [--step-s 2] [--no-profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import logging
import os
import pstats
import resource
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.events import BaseEvent, EventBus, SessionFinished, StepStarted
from massager_ctl.models import Routine
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.device import DeviceConnector

MODEL = "serial-cushion-z3"
GOAL_P99_MS = 10.0
GOAL_CPU_MS = 0.1
GOAL_MIB = 0.15
PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20


def build_routine(steps: int, step_s: float) -> Routine:
    return Routine.model_validate(
        {
            "id": "fleet-bench",
            "title": "Fleet benchmark",
            "summary": f"{steps} steps of {step_s:g} s.",
            "areas": ["back"],
            "tools": ["electric-massager"],
            "steps": [
                {"title": f"Step {i + 1}", "duration": step_s, "device": {"intensity": 1 + i % 2}}
                for i in range(steps)
            ],
        }
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_MIB


# ---------------------------------------------------------------- the simulator process


async def host_simulators(count: int) -> None:
    """Serve ``count`` simulators on TCP; print their URLs, then wait for stdin to close."""
    from firmware_sim.device import SimulatedDevice

    profile = Catalog().device(MODEL)
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(count):
            device = await stack.enter_async_context(SimulatedDevice(profile))
            print(await device.serve_tcp(), flush=True)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextlib.asynccontextmanager
async def simulators(count: int) -> AsyncIterator[list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--simulators",
        str(count),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    urls: list[str] = []
    try:
        while (line := (await proc.stdout.readline()).decode().strip()) != "ready":
            if not line:
                raise RuntimeError(f"the simulator process ended early ({await proc.wait()})")
            urls.append(line)
        yield urls
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# ---------------------------------------------------------------- the controller side


@dataclass
class Result:
    n: int
    late_ms: list[float]
    cpu_ms_per_session_s: float
    mib_per_session: float
    statuses: dict[str, int]


async def run_sessions(urls: list[str], steps: int, step_s: float) -> Result:
    catalog = Catalog()
    plan = preflight(build_routine(steps, step_s), catalog.device(MODEL), Caps(max_intensity=1.0))
    bus = EventBus()
    events = bus.subscribe(maxsize=1_000_000, name="bench")
    collected: list[BaseEvent] = []

    async def read() -> None:
        async for event in events:
            if isinstance(event, StepStarted | SessionFinished):
                collected.append(event)

    reader = asyncio.create_task(read())
    n = len(urls)
    peak = baseline = rss_mib()

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mib())
            await asyncio.sleep(0.5)

    async def one(index: int, url: str) -> None:
        await asyncio.sleep(index * step_s / n)
        async with DeviceConnector(url, catalog=catalog) as device:
            session = Session(plan, connect=device.connect, device_url=url, bus=bus)
            await session.run()

    sampler = asyncio.create_task(sample())
    cpu0 = time.process_time()
    async with asyncio.TaskGroup() as group:
        for index, url in enumerate(urls):
            group.create_task(one(index, url))
    cpu = time.process_time() - cpu0
    sampler.cancel()
    bus.close()
    await reader
    late = [(e.session_t - e.planned_start_s) * 1000 for e in collected if isinstance(e, StepStarted)]
    statuses: dict[str, int] = {}
    for e in collected:
        if isinstance(e, SessionFinished):
            statuses[e.status] = statuses.get(e.status, 0) + 1
    return Result(
        n=n,
        late_ms=late,
        cpu_ms_per_session_s=cpu * 1000 / (n * plan.duration_s),
        mib_per_session=(peak - baseline) / n,
        statuses=statuses,
    )


def report(result: Result) -> bool:
    late = result.late_ms
    p99 = percentile(late, 0.99)
    met = (
        p99 <= GOAL_P99_MS
        and result.cpu_ms_per_session_s <= GOAL_CPU_MS
        and result.mib_per_session <= GOAL_MIB
    )
    print(
        f"N={result.n:5d}  lateness p50 {percentile(late, 0.5):7.2f} ms  p99 {p99:7.2f} ms"
        f"  max {max(late):7.2f} ms"
        f"  CPU {result.cpu_ms_per_session_s:.3f} ms/session-s  RSS {result.mib_per_session:.3f} MiB/session"
        f"  {result.statuses}  goals {'met' if met else 'NOT met'}",
        flush=True,
    )
    return met


async def measure(sizes: list[int], steps: int, step_s: float) -> list[bool]:
    outcomes = []
    for n in sizes:
        async with simulators(n) as urls:
            outcomes.append(report(await run_sessions(urls, steps, step_s)))
    return outcomes


async def profiled(n: int, steps: int, step_s: float) -> str:
    async with simulators(n) as urls:
        profiler = cProfile.Profile()
        profiler.enable()
        await run_sessions(urls, steps, step_s)
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000", help="session counts, comma-separated")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--step-s", type=float, default=2.0)
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled run")
    parser.add_argument("--simulators", type=int, help=argparse.SUPPRESS)  # the simulator process
    args = parser.parse_args()
    if args.simulators is not None:
        asyncio.run(host_simulators(args.simulators))
        return
    sizes = [int(n) for n in args.sizes.split(",")]
    # Under cProfile's own overhead a few links time out; their warnings would bury the table.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(message)s")
    # 1000 sessions hold a few thousand sockets between them
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8 * max(sizes) + 256)), hard))
    print(
        f"{args.steps} steps of {args.step_s:g} s per session on {MODEL} over TCP, simulators in another"
        " process, starts staggered over one step",
        flush=True,
    )
    met = asyncio.run(measure(sizes, args.steps, args.step_s))
    if not all(met) and not args.no_profile:
        print(f"\nwhat dominates at N={max(sizes)} (cProfile, by own time):", flush=True)
        print(asyncio.run(profiled(max(sizes), args.steps, args.step_s)))


if __name__ == "__main__":
    main()
