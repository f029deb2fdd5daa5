"""The person's heat controls mid-session: heat off always taken and kept, heat on only within the budget."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.orchestrator import ControlError
from tests.orchestrator.orch_support import Rig, at, make_plan
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY

HEATED = [
    {"title": "Warm", "duration": 300, "device": {"heat": "low", "intensity": 2}},
    {"title": "Warmer", "duration": 300, "device": {"heat": "high", "intensity": 2}},
    {"title": "Cool", "duration": 60, "device": {"heat": "off", "intensity": 1}},
]


async def test_heat_off_is_taken_at_once_and_holds_for_the_rest_of_the_session() -> None:
    plan = make_plan(HEATED, "serial-cushion-z3")
    async with Rig(plan) as rig:
        off = asyncio.create_task(at(100, rig, rig.session.heat_off))
        result = await rig.run()
        await off
    assert result.status == "completed"
    assert rig.firmware_at(99).heat == 1
    assert rig.firmware_at(101).heat == 0  # taken within a second, not at the next step
    assert rig.firmware_at(101).motor  # only the heat: the step runs on
    assert all(s.heat == 0 for s in rig.firmware_between(101, 600))  # the next step's heat stays off
    assert rig.firmware_at(450).intensity == 2


async def test_heat_off_is_taken_while_waiting_for_the_person_and_kept_after_the_confirm() -> None:
    steps = [{**HEATED[0], "confirm": True}, HEATED[2]]
    plan = make_plan(steps, "serial-cushion-z3")
    async with Rig(plan) as rig:
        task = asyncio.create_task(rig.run())
        while rig.session.state.value != "waiting_for_confirm":  # noqa: ASYNC110  # no event for it here
            await asyncio.sleep(0.01)
        rig.session.heat_off()
        rig.session.confirm()
        result = await task
    assert result.status == "completed"
    assert rig.of("step_started")
    assert all(s.heat == 0 for _, s in rig.firmware_log)
    assert rig.firmware_at(rig.of("confirmed")[0].session_t + 100).motor


async def test_the_h_key_turns_the_heat_off_and_says_so() -> None:
    from massager_ctl.ui.keys import handle_key

    plan = make_plan(HEATED, "serial-cushion-z3")
    async with Rig(plan) as rig:
        said: list[str | None] = []
        key = asyncio.create_task(at(100, rig, lambda: said.append(handle_key(rig.session, "h"))))
        result = await rig.run()
        await key
    assert result.status == "completed"
    assert said == ["heat off for the rest of the session"]
    assert rig.firmware_at(99).heat == 1
    assert all(s.heat == 0 for s in rig.firmware_between(101, 600))


async def test_heat_on_brings_the_planned_heat_back_within_the_budget() -> None:
    plan = make_plan(HEATED, "serial-cushion-z3")
    async with Rig(plan) as rig:
        off = asyncio.create_task(at(100, rig, rig.session.heat_off))
        on = asyncio.create_task(at(200, rig, rig.session.heat_on))
        result = await rig.run()
        await off
        await on
    assert result.status == "completed"
    assert rig.firmware_at(150).heat == 0
    assert rig.firmware_at(201).heat == 1
    assert rig.firmware_at(450).heat == 2  # the next step's heat as planned


async def test_heat_on_is_refused_where_it_would_break_the_budget() -> None:
    # The routine plans 300 s of heat; extended past it, the engine cuts the heat and heat on is refused.
    plan = make_plan([HEATED[0], HEATED[2]], "serial-cushion-z3")
    assert plan.heat_budget_s == 300
    errors: list[str] = []

    def heat_on() -> None:
        try:
            rig.session.heat_on()
        except ControlError as e:
            errors.append(str(e))

    async with Rig(plan) as rig:
        extend = asyncio.create_task(at(250, rig, lambda: rig.session.extend(200)))
        refused = asyncio.create_task(at(400, rig, heat_on))
        result = await rig.run()
        await extend
        await refused
    assert result.status == "completed"
    assert errors == [
        "cannot turn the heat on: it would break the heat budget (5.0 of 5.0 min used, at most 20 min "
        "without a break)"
    ]
    assert all(s.heat == 0 for s in rig.firmware_between(300, 500))


async def test_heat_on_is_refused_when_the_routine_plans_no_heat_and_heat_off_after_the_end() -> None:
    plan = make_plan([HEATED[2]], "serial-cushion-z3")
    async with Rig(plan) as rig:
        errors: list[str] = []

        def heat_on() -> None:
            with pytest.raises(ControlError) as info:
                rig.session.heat_on()
            errors.append(str(info.value))

        task = asyncio.create_task(at(10, rig, heat_on))
        await rig.run()
        await task
        with pytest.raises(ControlError, match="already completed"):
            rig.session.heat_off()
    assert errors == ["cannot turn the heat on: this routine plans no heat"]
