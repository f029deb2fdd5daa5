"""Web remote latency: a session event until the page's stream has it, next to MQTT's publish -> subscriber.

All measured in the same run, on this machine:

* **event -> page (SSE)**: a session on a simulator (``sim://...?link=virtual``) with its web
  remote; from the moment an event is published on the session's bus, through the app and
  uvicorn, to an HTTP client reading ``/api/events``.
* **command -> its answer, and -> its event on the page**: the page's round trip: POST
  ``/api/cmd`` (an intensity nudge) until its answer, and until the ``intensity_nudged`` event
  arrives on the stream (the session publishes it once the device has the new level, so this
  includes the simulated device's round trip).
* **MQTT publish -> subscriber**: one aiomqtt client publishes (QoS 1), another receives, through
  the mosquitto the tests use (started here on a free loopback port).

Usage::

    python bench/web_latency.py [--count 200] [--broker mqtt://host:port]
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
from mqtt_latency import raw_round_trips, run_on_a_broker, summary

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.events import EventBus, Notice
from massager_ctl.models import Routine
from massager_ctl.mqtt import parse_broker_url
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.web.access import Bind
from massager_ctl.web.remote import SessionRemote
from massager_ctl.web.server import web_remote

MODEL = "pulse-gun-p5"
DEVICE = f"sim://{MODEL}?link=virtual"


def long_routine() -> Routine:
    return Routine.model_validate(
        {
            "id": "bench-web",
            "title": "Bench",
            "summary": "One long step.",
            "areas": ["upper-back"],
            "tools": ["electric-massager"],
            "steps": [{"title": "Hold", "duration": 1800, "device": {"head": "ball", "intensity": 3}}],
        }
    )


async def events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[float, dict[str, object]]]:
    """Each streamed event with the time it was read."""
    async for line in lines:
        if line.startswith("data: "):
            body = json.loads(line[6:])
            if body["event"] is not None:
                yield time.perf_counter(), body["event"]


async def web_latencies(count: int) -> tuple[list[float], list[float], list[float]]:
    catalog = Catalog()
    plan = preflight(long_routine(), catalog.device(MODEL), Caps())
    pushed: list[float] = []
    round_trips: list[float] = []
    answered: list[float] = []
    async with DeviceConnector(DEVICE, catalog=catalog) as connector:
        bus = EventBus()
        session = Session(plan, connect=connector.connect, device_url=DEVICE, bus=bus)
        run = asyncio.create_task(session.run())
        async with (
            web_remote(SessionRemote(session), Bind("127.0.0.1", 0)) as access,
            httpx.AsyncClient(timeout=10) as client,
        ):
            base = f"http://127.0.0.1:{access.bind.port}"
            async with client.stream("GET", f"{base}/api/events") as stream:
                stream_events = events(stream.aiter_lines())
                while session.state.value != "running":
                    _, event = await anext(stream_events)
                for i in range(count):
                    sent = time.perf_counter()
                    bus.publish(Notice(session_id=session.id, session_t=0.0, level="info", message=f"b{i}"))
                    async for arrived, event in stream_events:
                        if event.get("message") == f"b{i}":
                            pushed.append(arrived - sent)
                            break
                for i in range(count):
                    delta = 1 if i % 2 == 0 else -1
                    await asyncio.sleep(0.03)  # a person's pace: under the commands' rate limit
                    sent = time.perf_counter()
                    reply = await client.post(
                        f"{base}/api/cmd",
                        content=json.dumps({"action": "intensity", "delta": delta, "client": f"b{i}"}),
                        headers={"x-massager": "1"},
                    )
                    assert reply.status_code == 200, reply.text
                    answered.append(time.perf_counter() - sent)
                    async for arrived, event in stream_events:
                        if event["type"] == "intensity_nudged":
                            round_trips.append(arrived - sent)
                            break
        session.stop("bench over")
        await run
    return pushed, answered, round_trips


async def measure(url: str, count: int) -> None:
    broker = parse_broker_url(url)
    pushed, answered, round_trips = await web_latencies(count)
    raw = await raw_round_trips(broker.host, broker.port, count)
    print(f"web remote on 127.0.0.1, broker {broker.display}, {count} samples each")
    print(summary("event -> page (SSE)", pushed))
    print(summary("page command -> its answer", answered))
    print(summary("page command -> its event (SSE)", round_trips))
    print(summary("MQTT publish -> subscriber", raw))


def main() -> None:
    run_on_a_broker(measure, __doc__)


if __name__ == "__main__":
    main()
