"""Several device services in one process, on simulators, in virtual time: none touches another's timeline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.events import BaseEvent, SessionFinished, StepStarted, Subscription
from massager_ctl.models import DeviceProfile
from massager_ctl.orchestrator.commands import Start
from massager_ctl.orchestrator.controller import Controller, DeviceSpec, Outcome
from massager_ctl.orchestrator.service import DeviceService
from massager_ctl.orchestrator.service_events import DeviceUpdate
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY

MODEL = "shiatsu-cushion-s3"
ROUTINE = """\
id: fleet-test
title: Fleet test
summary: Six steps alternating the intensity on the shiatsu cushion.
areas: [upper-back, lower-back]
tools: [electric-massager]
steps:
""" + "".join(
    f"  - title: Step {i + 1}\n    duration: 20\n    device: {{head: zone-upper, intensity: {1 + i % 2}}}\n"
    for i in range(6)
)


@contextlib.asynccontextmanager
async def no_front(service: DeviceService, spec: DeviceSpec, profile: DeviceProfile) -> AsyncIterator[None]:
    yield None


def spec(device_id: str, faults: str = "") -> DeviceSpec:
    url = f"sim://{MODEL}?link=virtual" + (f"&faults={faults}" if faults else "")
    return DeviceSpec(device_id=device_id, url=url, model=MODEL)


async def run_two(
    tmp_path: Path, a: DeviceSpec, b: DeviceSpec
) -> tuple[dict[str, list[BaseEvent]], list[Outcome]]:
    """Start the routine on both at the same instant; every event of each until both sessions end."""
    folder = tmp_path / "routines"
    folder.mkdir(exist_ok=True)
    (folder / "fleet-test.yaml").write_text(ROUTINE)
    catalog = Catalog(routine_dirs=[folder])
    subscriptions: dict[str, Subscription] = {}

    both = asyncio.Event()

    def subscribe(device: DeviceSpec) -> None:
        bus = controller.services[device.device_id].bus
        subscriptions[device.device_id] = bus.subscribe(maxsize=100_000, name="test")
        if len(subscriptions) == 2:
            both.set()

    controller = Controller(
        [a, b],
        catalog=catalog,
        caps=Caps(max_intensity=1.0),
        front=no_front,
        auto_confirm=True,
        on_ready=subscribe,
    )
    seen: dict[str, list[BaseEvent]] = {a.device_id: [], b.device_id: []}

    async def until(device_id: str, match: type[BaseEvent]) -> None:
        while (event := await subscriptions[device_id].get()) is not None:
            seen[device_id].append(event)
            if isinstance(event, match) and (not isinstance(event, DeviceUpdate) or event.state.connected):
                return

    stop = asyncio.Event()
    run = asyncio.create_task(controller.run(stop))
    async with asyncio.timeout(60):
        await both.wait()
        await asyncio.gather(until(a.device_id, DeviceUpdate), until(b.device_id, DeviceUpdate))
    answers = await asyncio.gather(
        *(controller.services[d].handle(Start(routine="fleet-test")) for d in (a.device_id, b.device_id))
    )
    assert all(answer.ok for answer in answers), answers
    async with asyncio.timeout(600):
        await asyncio.gather(until(a.device_id, SessionFinished), until(b.device_id, SessionFinished))
    stop.set()
    outcomes = await run
    return seen, outcomes


def step_starts(events: list[BaseEvent]) -> list[tuple[int, float]]:
    return [(e.index, e.session_t) for e in events if isinstance(e, StepStarted)]


async def test_a_link_drop_on_one_device_leaves_the_others_step_timing_unchanged(tmp_path: Path) -> None:
    calm, calm_outcomes = await run_two(tmp_path, spec("a"), spec("b"))
    dropped, outcomes = await run_two(tmp_path, spec("a", "drop_link_at=50,reconnect_after=5"), spec("b"))

    # the drop happened, on a only
    assert any(isinstance(e, DeviceUpdate) and not e.state.connected for e in dropped["a"])
    assert not any(isinstance(e, DeviceUpdate) and not e.state.connected for e in dropped["b"])
    assert step_starts(dropped["a"]) != step_starts(calm["a"])  # a's own timeline felt it
    # b's did not, to the microsecond of virtual time
    assert len(step_starts(dropped["b"])) == 6
    assert step_starts(dropped["b"]) == step_starts(calm["b"])
    finished = [e for e in dropped["b"] if isinstance(e, SessionFinished)]
    assert [e.status for e in finished] == ["completed"]
    assert calm_outcomes == outcomes == [Outcome("a", safe=True), Outcome("b", safe=True)]


async def test_a_device_that_fails_ends_alone(tmp_path: Path) -> None:
    broken = DeviceSpec(device_id="x", url="sim://no-such-model?link=virtual", model="no-such-model")
    folder = tmp_path / "routines"
    folder.mkdir(exist_ok=True)
    (folder / "fleet-test.yaml").write_text(ROUTINE)
    catalog = Catalog(routine_dirs=[folder])
    ready = asyncio.Event()
    controller = Controller(
        [broken, spec("b")],
        catalog=catalog,
        caps=Caps(),
        front=no_front,
        auto_confirm=True,
        on_ready=lambda d: ready.set(),
    )
    stop = asyncio.Event()
    run = asyncio.create_task(controller.run(stop))
    async with asyncio.timeout(60):
        await ready.wait()
    assert (await controller.services["b"].handle(Start(routine="fleet-test"))).ok
    await asyncio.sleep(30)
    assert controller.services["b"].session is not None  # still running after x failed
    stop.set()
    outcomes = await run
    assert outcomes[1] == Outcome("b", safe=True)
    assert outcomes[0].device_id == "x"
    assert not outcomes[0].safe
    assert outcomes[0].error is not None
    assert "no-such-model" in str(outcomes[0].error)
