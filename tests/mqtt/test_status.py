"""StatusPublisher: progress at most once per interval (latest wins), lifecycle at once, state on change."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace
from typing import Any

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.drivers.base import DeviceState
from massager_ctl.events import DeviceStateEvent, Paused, Progress, SessionStarted
from massager_ctl.mqtt.link import Availability, MqttLink
from massager_ctl.mqtt.status import StatusPublisher
from massager_ctl.mqtt.topics import make_topics
from massager_ctl.mqtt.url import parse_broker_url
from tests.mqtt.mqtt_support import Broker, retained, watch

pytestmark = pytest.mark.slow  # each test starts mosquitto

TOPICS = make_topics(device_id="dev1")


def progress(i: int) -> Progress:
    return Progress(
        session_id="s1",
        session_t=i * 0.01,
        state="running",
        index=0,
        steps=2,
        step_elapsed_s=i * 0.01,
        step_duration_s=10.0,
        session_elapsed_s=i * 0.01,
        session_duration_s=20.0,
    )


async def test_progress_is_coalesced_and_lifecycle_is_not(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = Catalog().device("shiatsu-cushion-s3")
    link = MqttLink(
        parse_broker_url(broker.url), client_id="pub", availability=Availability(TOPICS.availability)
    )
    loop = asyncio.get_running_loop()
    handed: list[tuple[float, dict[str, Any]]] = []  # session snapshots given to the link, at loop time
    hand_over = link.set_retained

    def recording(topic: str, payload: str | bytes) -> None:
        if topic == TOPICS.session:
            handed.append((loop.time(), json.loads(payload)))
        hand_over(topic, payload)

    monkeypatch.setattr(link, "set_retained", recording)
    async with watch(broker, TOPICS.session) as watcher, link:
        publisher = StatusPublisher(link, TOPICS, profile, min_interval_s=0.25)
        publisher.event(
            SessionStarted(
                session_id="s1",
                session_t=0.0,
                routine_id="r",
                routine_title="R",
                device="sim://x",
                model=profile.id,
                steps=2,
                planned_duration_s=20.0,
            )
        )
        for i in range(1, 121):  # 120 progress events, 10 ms apart or more
            publisher.event(progress(i))
            await asyncio.sleep(0.01)
        publisher.event(progress(121))  # held back: the last progress update went out less than 0.25 s ago
        publisher.event(Paused(session_id="s1", session_t=1.3, index=0, remaining_s=8.7))
        # lifecycle is not held back: handed to the link within the event() call, ahead of that progress
        assert handed[-1][1]["status"] == "paused"
        assert handed[-1][1]["step_remaining_s"] == 8.7
        body = json.loads(
            await watcher.wait_for(TOPICS.session, lambda p: json.loads(p)["status"] == "paused")
        )
        assert body["step_remaining_s"] == 8.7
        publisher.close()
        await link.flush(timeout_s=5)

    running = [(t, b) for t, b in handed if b["status"] == "running"]
    assert len(running) >= 2
    # coalesced: progress-driven updates at least min_interval_s apart on the loop's clock, whatever the load
    times = [t for t, b in handed if b["status"] in ("preparing", "running")]
    assert all(b - a >= 0.25 for a, b in itertools.pairwise(times)), times
    bodies = [json.loads(p) for p in watcher.on(TOPICS.session)]
    progress_updates = [b for b in bodies if b["status"] == "running"]
    # The broker saw what was handed over, in order; the link keeps only the latest retained payload
    # per topic, so an update superseded before it went out (by the next one, or the pause) is skipped.
    handed_running = iter(b for _, b in running)
    assert progress_updates
    assert all(any(b == h for h in handed_running) for b in progress_updates), progress_updates
    # Each update carried the newest progress of its moment, not a stale one.
    assert progress_updates[-1]["progress"] > 0.04
    assert bodies[0]["status"] == "preparing"
    assert bodies[-1]["status"] == "paused"
    left = json.loads((await retained(broker, TOPICS.session))[TOPICS.session])
    assert left["status"] == "paused"


async def test_state_only_on_change(broker: Broker) -> None:
    # (Between flushes the latest state wins: a state superseded before it went out is never sent.)
    profile = Catalog().device("pulse-gun-p5")
    link = MqttLink(
        parse_broker_url(broker.url), client_id="pub", availability=Availability(TOPICS.availability)
    )
    async with watch(broker, TOPICS.state) as watcher, link:
        publisher = StatusPublisher(link, TOPICS, profile)
        on = DeviceState(connected=True, motor=True, head="fork", intensity=2, battery=80)
        for _ in range(5):
            publisher.device_state(on)
            await link.flush(timeout_s=5)
        publisher.device_state(DeviceState(connected=True, head="fork", battery=80))
        await link.flush(timeout_s=5)
        await watcher.wait_for(TOPICS.state, lambda p: json.loads(p)["motor"] is False)
    bodies = [json.loads(p) for p in watcher.on(TOPICS.state)]
    assert [(b["motor"], b["intensity"]) for b in bodies] == [(True, 2), (False, 0)]
    assert bodies[0]["head"] == "fork"
    assert bodies[0]["battery"] == 80
    assert bodies[0]["heat"] is None  # the gun has no heat


async def test_a_stale_state_is_published_as_unknown_never_as_the_last_report(broker: Broker) -> None:
    profile = Catalog().device("shiatsu-cushion-s3")
    link = MqttLink(
        parse_broker_url(broker.url), client_id="pub", availability=Availability(TOPICS.availability)
    )
    reported = DeviceState(connected=True, head="upper", mode="shiatsu", direction="cw", temperature_c=25.0)
    async with watch(broker, TOPICS.state) as watcher, link:
        publisher = StatusPublisher(link, TOPICS, profile)
        publisher.device_state(reported)
        await link.flush(timeout_s=5)
        # the device acked a change it never reported: motor off is only its last report
        publisher.device_state(replace(reported, stale=True))
        await link.flush(timeout_s=5)
        # the same through the session's events (``run --mqtt``)
        publisher.device_state(reported)
        await link.flush(timeout_s=5)
        publisher.event(
            DeviceStateEvent(
                session_id="s1",
                session_t=12.0,
                connected=True,
                motor=False,
                head="upper",
                intensity=0,
                heat="off",
                battery=None,
                stale=True,
            )
        )
        await link.flush(timeout_s=5)
        await watcher.wait_for(TOPICS.state, lambda _: len(watcher.on(TOPICS.state)) >= 4)
    fresh, stale, _, from_event = (json.loads(p) for p in watcher.on(TOPICS.state))
    assert fresh["stale"] is False
    assert (fresh["motor"], fresh["intensity"], fresh["heat"]) == (False, 0, "off")
    for body in (stale, from_event):
        assert body["stale"] is True
        assert body["connected"] is True
        assert body["model"] == profile.id
        for key in ("motor", "head", "intensity", "heat", "heat_level", "mode", "direction", "temperature_c"):
            assert body[key] is None, key
        assert set(body) == set(fresh)
    left = json.loads((await retained(broker, TOPICS.state))[TOPICS.state])
    assert left["stale"] is True
    assert left["motor"] is None
