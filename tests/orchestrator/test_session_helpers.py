"""The session's helpers (device watcher, progress ticker) live and die with its run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from massager_ctl.orchestrator import Session
from tests.orchestrator.orch_support import Rig, at, make_plan
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY

PLAN = make_plan([{"title": "Only", "duration": 60, "device": {"intensity": 3}}], "serial-cushion-z3")


def _helpers(session: Session) -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(f"session-{session.id}-")]


async def test_the_helpers_run_during_the_session_and_are_gone_after_it() -> None:
    async with Rig(PLAN) as rig:
        task = asyncio.create_task(rig.run())
        seen: list[str] = []
        await at(10, rig, lambda: seen.extend(sorted(t.get_name() for t in _helpers(rig.session))))
        result = await task
        assert _helpers(rig.session) == []
    assert result.status == "completed"
    assert seen == [f"session-{rig.session.id}-device", f"session-{rig.session.id}-progress"]


async def test_a_cancelled_session_leaves_no_helper_behind() -> None:
    async with Rig(PLAN) as rig:
        task = asyncio.create_task(rig.run())
        await at(10, rig, task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _helpers(rig.session) == []
    assert rig.session.result is not None
    assert rig.session.result.device_safe


async def test_the_progress_ticker_is_a_seam() -> None:
    ticks: list[float] = []

    async def every_ten(report: Callable[[], None], every_s: float) -> None:
        while True:
            await asyncio.sleep(10)
            ticks.append(asyncio.get_running_loop().time())
            report()

    async with Rig(PLAN) as rig:
        rig.session = Session(
            PLAN, connect=rig.connector.connect, device_url="sim://z3", bus=rig.bus, progress=every_ten
        )
        await rig.run()
    t0 = rig.session.t0
    assert [round(t - t0, 3) for t in ticks[:5]] == [10, 20, 30, 40, 50]  # its own pace, not 1 s
