"""The person strategy: who confirms and who fits a head, passed in to the session."""

from __future__ import annotations

import asyncio

import pytest

from firmware_sim import FirmwareState
from massager_ctl.orchestrator import Session
from massager_ctl.orchestrator.person import AttendingPerson, AutoPerson, HandsOnPerson, Request
from tests.orchestrator.orch_support import Rig, at, make_plan
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY

HEAD_CHANGE = [
    {"title": "Ball", "duration": 30, "device": {"head": "ball", "intensity": 3}},
    {"title": "Fork", "duration": 30, "device": {"head": "fork", "intensity": 2}},
]


class _Recording:
    """A person who notes each request and the device's state when asked, then is ready or not."""

    def __init__(self, rig: Rig, *, ready: bool) -> None:
        self.rig, self.ready = rig, ready
        self.asked_with: list[tuple[Request, FirmwareState]] = []

    def asked(self, request: Request) -> bool:
        self.asked_with.append((request, self.rig.firmware.state))
        return self.ready


async def test_the_simulators_person_fits_the_head_on_the_simulated_device() -> None:
    plan = make_plan(HEAD_CHANGE, "pulse-gun-p5")
    async with Rig(plan) as rig:
        rig.session = Session(
            plan,
            connect=rig.connector.connect,
            device_url="sim://p5",
            bus=rig.bus,
            person=rig.connector.auto_person(),
        )
        result = await rig.run()
    assert result.status == "completed"
    assert [(c.index, c.by) for c in rig.of("confirmed")] == [(1, "auto")]
    assert rig.firmware_at(45).head == "fork"  # fitted on the device, not only believed fitted
    assert rig.firmware_at(45).intensity == 2
    assert rig.of("step_finished")[1].session_t == pytest.approx(60, abs=1e-3)  # no time lost waiting


async def test_the_person_is_asked_once_per_wait_with_the_device_held() -> None:
    plan = make_plan(
        [*HEAD_CHANGE, {"title": "Ready?", "duration": 10, "device": {"intensity": 1}, "confirm": True}],
        "pulse-gun-p5",
    )
    async with Rig(plan) as rig:
        person = _Recording(rig, ready=False)
        rig.session = Session(
            plan, connect=rig.connector.connect, device_url="sim://p5", bus=rig.bus, person=person
        )
        fit = asyncio.create_task(at(40, rig, lambda: rig.firmware.fit_head("fork")))
        confirm = asyncio.create_task(at(90, rig, rig.session.confirm))
        result = await rig.run()
        await asyncio.gather(fit, confirm)
    assert result.status == "completed"
    asked = [(r.index, r.reason, r.head) for r, _ in person.asked_with]
    assert asked == [(1, "head_change", "fork"), (2, "confirm", None)]
    assert all(state.intensity == 0 and state.heat == 0 for _, state in person.asked_with)
    assert "Fit the" in person.asked_with[0][0].prompt
    assert [(c.index, c.by) for c in rig.of("confirmed")] == [(1, "device"), (2, "user")]


async def test_an_attending_person_is_waited_for_until_the_confirm_control() -> None:
    plan = make_plan(
        [{"title": "Lie down", "duration": 20, "device": {"intensity": 2}, "confirm": True}],
        "serial-cushion-z3",
    )
    async with Rig(plan, session_options={"person": AttendingPerson()}) as rig:
        confirm = asyncio.create_task(at(300, rig, rig.session.confirm))
        result = await rig.run()
        await confirm
    assert result.status == "completed"
    assert [c.by for c in rig.of("confirmed")] == ["user"]
    assert rig.of("session_finished")[0].session_t == pytest.approx(320, abs=1e-3)


def test_the_plain_strategies() -> None:
    fitted: list[str] = []
    head = Request(3, "head_change", "fork", "Fit the fork head, then confirm.")
    ready = Request(4, "confirm", None, "Lie on the roller.")
    assert AutoPerson().asked(head)
    assert AutoPerson().asked(ready)
    assert not AttendingPerson().asked(head)
    hands = HandsOnPerson(fitted.append)
    assert hands.asked(head)
    assert hands.asked(ready)
    assert fitted == ["fork"]  # a plain confirm needs no hands
