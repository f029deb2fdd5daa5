"""The event bus: non-blocking publish, bounded buffers, coalescing, counted drops, JSON round trip."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from massager_ctl.events import (
    EVENT_ADAPTER,
    DeviceStateEvent,
    EventBus,
    Progress,
    StepFinished,
    StepStarted,
    write_json_lines,
)


def progress(t: float) -> Progress:
    return Progress(
        session_id="s1",
        session_t=t,
        state="running",
        index=0,
        steps=3,
        step_elapsed_s=t,
        step_duration_s=60,
        session_elapsed_s=t,
        session_duration_s=180,
    )


def finished(i: int) -> StepFinished:
    return StepFinished(session_id="s1", session_t=float(i), index=i, title=f"step {i}", outcome="completed")


def device(level: int) -> DeviceStateEvent:
    return DeviceStateEvent(
        session_id="s1", session_t=0.0, connected=True, motor=level > 0, head="ball", intensity=level,
        heat=None, battery=90,
    )  # fmt: skip


def test_progress_coalesces_latest_wins_and_keeps_its_place() -> None:
    bus = EventBus()
    sub = bus.subscribe(maxsize=10)
    bus.publish(progress(1))
    bus.publish(finished(0))
    bus.publish(progress(2))
    bus.publish(progress(3))
    bus.publish(device(1))
    bus.publish(device(2))
    got = [sub.get_nowait() for _ in range(len(sub))]
    assert [(e.type, e.session_t) for e in got if e] == [
        ("step_finished", 0.0),
        ("progress", 3.0),
        ("device_state", 0.0),
    ]
    assert isinstance(got[2], DeviceStateEvent)
    assert got[2].intensity == 2
    assert sub.dropped == 0


def test_full_buffer_drops_snapshots_first_then_counts_lifecycle_drops() -> None:
    bus = EventBus()
    sub = bus.subscribe(maxsize=3)
    bus.publish(progress(1))
    bus.publish(finished(0))
    bus.publish(finished(1))
    bus.publish(finished(2))  # evicts the progress
    assert sub.dropped == 0
    bus.publish(finished(3))
    bus.publish(finished(4))
    bus.publish(progress(5))  # a snapshot is simply not queued when lifecycle events fill the buffer
    assert sub.dropped == 2
    kept = [sub.get_nowait() for _ in range(len(sub))]
    assert [e.type for e in kept if e] == ["step_finished"] * 3 + ["events_dropped"]
    assert kept[-1].count == 2  # type: ignore[union-attr]
    assert sub.get_nowait() is None


def test_publish_never_waits_for_a_reader() -> None:
    bus = EventBus()
    sub = bus.subscribe(maxsize=4)
    for i in range(10_000):
        bus.publish(finished(i))
        bus.publish(progress(i))
    assert len(sub) <= 5
    assert sub.dropped == 10_000 - 4


async def test_iteration_ends_after_close_and_drains_first() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    seen: list[int] = []

    async def read() -> None:
        async for event in sub:
            assert isinstance(event, StepFinished)
            seen.append(event.index)

    reader = asyncio.create_task(read())
    bus.publish(finished(0))
    await asyncio.sleep(0)
    bus.publish(finished(1))
    bus.publish(finished(2))
    bus.close()
    await asyncio.wait_for(reader, 1)
    assert seen == [0, 1, 2]
    with pytest.raises(RuntimeError, match="closed"):
        bus.subscribe()


def test_closed_subscription_receives_nothing() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    sub.close()
    sub.close()
    bus.publish(finished(0))
    assert sub.get_nowait() is None


async def test_json_lines_round_trip() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    started = StepStarted(
        session_id="s1", session_t=12.5, index=2, title="Fork", planned_start_s=12.5, duration_s=30,
        head="fork", intensity=2, heat=None, prompt="Fit the fork",
    )  # fmt: skip
    bus.publish(started)
    bus.publish(progress(13))
    bus.close()
    out = io.StringIO()
    await write_json_lines(sub, out)
    lines = out.getvalue().splitlines()
    first = json.loads(lines[0])
    assert first["type"] == "step_started"
    assert first["session_t"] == 12.5
    assert first["wall"].endswith("+00:00")
    assert "coalesce" not in first
    assert EVENT_ADAPTER.validate_json(lines[0]) == started
    assert EVENT_ADAPTER.validate_json(lines[1]).type == "progress"
