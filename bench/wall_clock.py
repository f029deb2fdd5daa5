"""Wall-clock figures the tests assert as behaviour only, printed here instead.

- the 30-minute dry run (``simulate``): the test checks that it never waits for real time;
- 20,000 ``MqttLink.set_retained`` hand-overs: the test checks that they coalesce into one publish;
- a stop with 1,000 intensity changes queued, over the pty simulator, next to one status round trip:
  the test checks that the stop is the only frame the device gets before it is confirmed.

Usage: ``.venv/bin/python bench/wall_clock.py``. No broker is needed (the link is never opened).
"""

from __future__ import annotations

import asyncio
import statistics
import time

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.connect import open_device
from massager_ctl.mqtt.link import Availability, MqttLink
from massager_ctl.mqtt.url import parse_broker_url
from massager_ctl.orchestrator import preflight
from massager_ctl.orchestrator.dryrun import simulate


def dry_run_s(catalog: Catalog) -> float:
    plan = preflight(catalog.routine("full-session-30-cushion"), catalog.device("serial-cushion-z3"), Caps())
    began = time.perf_counter()
    simulate(plan, catalog=catalog)
    return time.perf_counter() - began


async def hand_overs_s(count: int) -> float:
    config = parse_broker_url("mqtt://127.0.0.1:1", environ={})
    link = MqttLink(config, client_id="bench", availability=Availability("bench/availability"))
    began = time.perf_counter()
    for i in range(count):
        link.set_retained("bench/session", f'{{"i": {i}}}')
    return time.perf_counter() - began


async def stop_and_round_trip_s(catalog: Catalog) -> tuple[float, float]:
    async with open_device("sim://serial-cushion-z3?link=pty", catalog=catalog) as device:
        await device.set_intensity(1)
        round_trips = []
        for _ in range(5):
            began = time.perf_counter()
            await device.refresh()
            round_trips.append(time.perf_counter() - began)
        queued = [asyncio.create_task(device.set_intensity(2 + i % 2)) for i in range(1000)]
        await asyncio.sleep(0)
        began = time.perf_counter()
        await device.stop()
        stop_s = time.perf_counter() - began
        await asyncio.gather(*queued)
        return stop_s, statistics.median(round_trips)


def main() -> None:
    catalog = Catalog()
    print(f"30-minute dry run (simulate)             {dry_run_s(catalog) * 1000:8.1f} ms")
    print(f"20,000 MqttLink hand-overs               {asyncio.run(hand_overs_s(20_000)) * 1000:8.1f} ms")
    stop_s, round_trip_s = asyncio.run(stop_and_round_trip_s(catalog))
    print(f"stop with 1,000 changes queued (pty)     {stop_s * 1000:8.1f} ms")
    print(f"one status round trip (pty, median of 5) {round_trip_s * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
