"""Real-time timing of the session engine on the pty simulator.

Runs a routine of 100 steps of 100 ms each (built here, intensity alternating
between two levels so every step sends a command) on ``sim://serial-cushion-z3``
over a real pty, in real time, and prints how late each step started against
its planned start (p50, p99, max), how late the device confirmed each step's
intensity, and how far the session's end drifted from the planned 10 s.

Usage: ``python bench/timing.py [--steps N] [--step-ms MS]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.events import BaseEvent, DeviceStateEvent, EventBus, SessionFinished, StepStarted
from massager_ctl.models import Routine
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.device import DeviceConnector

MODEL = "serial-cushion-z3"


def build_routine(steps: int, step_s: float) -> Routine:
    return Routine.model_validate(
        {
            "id": "timing-bench",
            "title": "Timing benchmark",
            "summary": f"{steps} steps of {step_s * 1000:g} ms.",
            "areas": ["back"],
            "tools": ["electric-massager"],
            "steps": [
                {"title": f"Step {i + 1}", "duration": step_s, "device": {"intensity": 2 + i % 2}}
                for i in range(steps)
            ],
        }
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(steps: int, step_s: float) -> None:
    catalog = Catalog()
    plan = preflight(build_routine(steps, step_s), catalog.device(MODEL), Caps())
    bus = EventBus()
    events = bus.subscribe(maxsize=100_000, name="bench")
    url = f"sim://{MODEL}?link=pty"
    collected: list[BaseEvent] = []

    async def read() -> None:  # reads as it goes: device_state snapshots would coalesce otherwise
        async for event in events:
            collected.append(event)

    reader = asyncio.create_task(read())
    async with DeviceConnector(url, catalog=catalog) as device:
        session = Session(plan, connect=device.connect, device_url=url, bus=bus)
        result = await session.run()
    bus.close()
    await reader
    confirmed_ms: list[float] = []
    started: StepStarted | None = None
    for event in collected:
        if isinstance(event, StepStarted):
            started = event
        elif (
            isinstance(event, DeviceStateEvent)
            and started is not None
            and event.intensity == started.intensity
        ):
            confirmed_ms.append((event.session_t - started.planned_start_s) * 1000)
            started = None
    late_ms = [(e.session_t - e.planned_start_s) * 1000 for e in collected if isinstance(e, StepStarted)]
    end = next(e for e in collected if isinstance(e, SessionFinished))
    print(f"{steps} steps of {step_s * 1000:g} ms on {url} (real pty, real time): {result.status}")
    print(
        f"step-start lateness: p50 {percentile(late_ms, 0.5):.3f} ms, p99 {percentile(late_ms, 0.99):.3f} ms,"
        f" max {max(late_ms):.3f} ms, mean {statistics.fmean(late_ms):.3f} ms"
    )
    print(
        f"device-confirmed lateness ({len(confirmed_ms)} steps): p50 {percentile(confirmed_ms, 0.5):.3f} ms,"
        f" p99 {percentile(confirmed_ms, 0.99):.3f} ms"
    )
    print(f"end drift: {(end.session_t - plan.duration_s) * 1000:+.3f} ms over {plan.duration_s:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--step-ms", type=float, default=100.0)
    args = parser.parse_args()
    asyncio.run(measure(args.steps, args.step_ms / 1000))


if __name__ == "__main__":
    main()
