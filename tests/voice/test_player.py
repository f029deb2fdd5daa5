"""The cue player on a real session over the simulator, in virtual time: each cue at its moment.

The cues go to a directory (``--audio-out``): ``t`` in ``cues.jsonl`` is the session clock when the
player handed the cue on, so these tests read the player's timing straight from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from massager_ctl.events import BaseEvent, EventBus, Reconnected, StepFinished, StepStarted, Suspended
from massager_ctl.orchestrator import Plan, Session
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.voice.cues import DEFAULT_RULES, Cue, CueRule, plan_cues
from massager_ctl.voice.engine import CueAudio
from massager_ctl.voice.outputs import DirectoryOutput
from massager_ctl.voice.player import CuePlayer, SessionClock
from massager_ctl.voice.session import VoiceSettings, spoken_cues
from tests.orchestrator.orch_support import CATALOG, make_plan
from tests.voice.voice_support import cue_lines, espeak

pytestmark = [pytest.mark.looptime, pytest.mark.slow]  # slow: espeak-ng runs as a process

TWO_MINUTES: list[dict[str, Any]] = [
    {"title": "Rub", "duration": 60, "device": {"head": "upper", "intensity": 3}, "prompt": {"text": "Hi."}},
    {"title": "Roll", "duration": 60, "device": {"head": "lower", "intensity": 2}, "prompt": {"text": "Oh."}},
]
THREE_STEPS = [*TWO_MINUTES, {"title": "Rest", "duration": 60, "prompt": {"text": "Rest."}}]


@dataclass
class VoicedRig:
    """One session on an in-process simulator with its cues written to ``out``.

    The cues are synthesised before the simulator starts: under virtual time its timers would
    otherwise race ahead (hours of battery drain) while the synthesis threads work.
    """

    plan: Plan
    out: Path
    rules: Sequence[CueRule] = DEFAULT_RULES
    events: list[BaseEvent] = field(default_factory=list)

    async def run(self, script: Iterable[tuple[float, str]] = ()) -> list[tuple[str, Any, float]]:
        """Run the session, calling ``script``'s controls at their session times; (kind, step or
        text, t) of every cue."""
        url = f"sim://{self.plan.profile.id}?link=virtual"
        connector = DeviceConnector(url, catalog=CATALOG)
        bus = EventBus()
        events = bus.subscribe(maxsize=1_000_000, name="test")
        session = Session(self.plan, connect=connector.connect, device_url=url, bus=bus)
        settings = VoiceSettings(engine=espeak(), audio_out=self.out)
        loop = asyncio.get_running_loop()
        async with spoken_cues(session, settings, rules=self.rules), connector:
            run = asyncio.create_task(session.run())
            for t, control in script:
                while session.state.value in ("idle", "preparing"):  # noqa: ASYNC110  # no event for it
                    await asyncio.sleep(0.001)
                await asyncio.sleep(max(0.0, session.t0 + t - loop.time()))
                getattr(session, control)()
            await run
            bus.close()
        while (event := events.get_nowait()) is not None:
            self.events.append(event)
        return [(c["kind"], c.get("step", c["text"]), c["t"]) for c in cue_lines(self.out)]

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]


def cushion(steps: list[dict[str, Any]]) -> Plan:
    return make_plan(steps, "serial-cushion-z3")


async def test_cues_follow_the_plan_and_a_pause(tmp_path: Path) -> None:
    rig = VoicedRig(cushion(TWO_MINUTES), tmp_path)
    cues = await rig.run([(20, "pause"), (50, "resume")])
    assert [(kind, key) for kind, key, _ in cues] == [
        ("step", 0),
        ("paused", "Paused."),
        ("resumed", "Resuming."),
        ("warning", 0),
        ("step", 1),
        ("warning", 1),
        ("end", "Session complete. Well done."),
    ]
    # the warning moved with the pause: 40 s were left at 50, so it is due at 50 + 40 - 10
    assert [t for *_, t in cues] == pytest.approx([0, 20, 50, 80, 90, 140, 150], abs=0.01)
    started = [e.session_t for e in rig.of("step_started")]
    assert started == pytest.approx([0, 90], abs=0.01)
    assert all((tmp_path / line["file"]).stat().st_size > 1000 for line in cue_lines(tmp_path))


async def test_an_extension_moves_the_warning_and_a_skip_cancels_it(tmp_path: Path) -> None:
    rig = VoicedRig(cushion(THREE_STEPS), tmp_path)
    cues = await rig.run([(10, "extend"), (100, "skip")])
    assert [(kind, key) for kind, key, _ in cues] == [
        ("step", 0),
        ("warning", 0),
        ("step", 1),
        ("step", 2),  # skipped at 100: step 1's warning (due at 140) is never said
        ("warning", 2),
        ("end", "Session complete. Well done."),
    ]
    assert [t for *_, t in cues] == pytest.approx([0, 80, 90, 100, 150, 160], abs=0.01)


async def test_a_wait_for_the_person_holds_the_warning_until_the_confirm(tmp_path: Path) -> None:
    steps = [{**TWO_MINUTES[0], "confirm": True}, TWO_MINUTES[1]]
    rig = VoicedRig(cushion(steps), tmp_path)
    cues = await rig.run([(15, "confirm")])
    assert [(kind, key) for kind, key, _ in cues] == [
        ("step", 0),
        ("confirm", 0),
        ("warning", 0),
        ("step", 1),
        ("warning", 1),
        ("end", "Session complete. Well done."),
    ]
    assert [t for *_, t in cues] == pytest.approx([0, 0, 65, 75, 125, 135], abs=0.01)


async def test_a_lost_link_is_said_and_the_warning_follows_the_remaining_time(tmp_path: Path) -> None:
    # the player alone, fed the events a link drop makes (a simulator fault would be timed on the
    # firmware's clock, which virtual time moves on while the cues are synthesised)
    plan = cushion(TWO_MINUTES)
    sheet = plan_cues(plan)
    audio = CueAudio(espeak(), tmp_path)
    audio.start(sheet)
    await audio.wait_all()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    clock = SessionClock(now=lambda: loop.time() - t0, loop_time=lambda t: t0 + t)
    out = DirectoryOutput(tmp_path / "out")
    bus = EventBus()
    player = CuePlayer(sheet, audio, out, clock=clock)
    follow = asyncio.create_task(player.follow(bus.subscribe()))
    step = plan.steps[0]

    def publish(event: type[BaseEvent], t: float, **fields: Any) -> None:
        bus.publish(event(session_id="s", session_t=t, **fields))

    publish(StepStarted, 0.0, index=0, title=step.title, planned_start_s=0.0, duration_s=60.0,
            head=None, intensity=None, heat=None, prompt=step.prompt)  # fmt: skip
    await asyncio.sleep(40)
    publish(Suspended, 40.0, index=0, reason="the device disconnected", remaining_s=20.0)
    await asyncio.sleep(33)  # the step's old deadline (60) passes while the link is down
    publish(Reconnected, 73.0, index=0, attempts=3, remaining_s=20.0)
    await asyncio.sleep(30.5)  # the engine's own event comes a moment after the deadline
    publish(StepFinished, 93.5, index=0, title=step.title, outcome="completed")
    bus.close()
    await follow
    await out.aclose(drain_s=0)
    audio.close()
    cues = [(c["kind"], c["t"]) for c in cue_lines(tmp_path / "out")]
    assert cues == [
        ("step", pytest.approx(0.0, abs=0.01)),
        ("suspended", pytest.approx(40.0, abs=0.01)),
        ("reconnected", pytest.approx(73.0, abs=0.01)),
        ("warning", pytest.approx(83.0, abs=0.01)),
        ("step", pytest.approx(93.0, abs=0.01)),  # the next step, at the step's new deadline
    ]


async def test_a_stop_is_said_and_nothing_after_it(tmp_path: Path) -> None:
    rig = VoicedRig(cushion(TWO_MINUTES), tmp_path)
    cues = await rig.run([(30, "stop")])
    assert [(kind, key) for kind, key, _ in cues] == [("step", 0), ("end", "Session stopped.")]
    assert [t for *_, t in cues] == pytest.approx([0, 30], abs=0.01)


async def test_heat_and_safety_and_a_devices_own_instructions_are_said(tmp_path: Path) -> None:
    steps = [
        {"title": "Warm", "duration": 30, "device": {"head": "lower", "intensity": 2, "heat": "low"}},
        {"title": "Cool", "duration": 30, "device": {"heat": "off"}},
    ]
    plan = cushion(steps)
    plan = Plan(
        routine=plan.routine.model_copy(update={"safety": ["Never on the spine."]}),
        profile=plan.profile,
        caps=plan.caps,
        steps=plan.steps,
        problems=[],
    )

    def instructions(plan: Plan) -> Iterable[Cue]:  # as a manual:// device will add them
        for step in plan.steps:
            text = f"Set the heat to {plan.heat_name(step.heat)}."
            yield Cue("instruction", text, "step_start", step.index)

    rig = VoicedRig(plan, tmp_path, rules=[*DEFAULT_RULES, instructions])
    cues = await rig.run()
    assert cues[0] == ("safety", "Before we start. Never on the spine.", 0.0)
    assert [(kind, key) for kind, key, _ in cues[1:]] == [
        ("step", 0),
        ("heat", 0),
        ("instruction", 0),
        ("warning", 0),
        ("step", 1),
        ("heat", 1),
        ("instruction", 1),
        ("warning", 1),
        ("end", "Session complete. Well done."),
    ]
    texts = [line["text"] for line in cue_lines(tmp_path)]
    assert texts[2:4] == ["Heat on, low.", "Set the heat to low."]
    assert texts[6:8] == ["Heat off.", "Set the heat to off."]


async def test_a_warning_notice_is_said_when_it_happens(tmp_path: Path) -> None:
    # an extension past the heat budget: the engine switches the heat off mid-step and warns
    steps = [
        {"title": "Warm", "duration": 30, "device": {"head": "lower", "intensity": 2, "heat": "low"}},
        {"title": "Cool", "duration": 30, "device": {"heat": "off"}},
    ]
    rig = VoicedRig(cushion(steps), tmp_path)
    cues = await rig.run([(5, "extend")])
    notices = [n for n in rig.of("notice") if n.level == "warning"]
    assert [n.message for n in notices] == ["heat off: the heat budget for this stretch is used up"]
    said = [(key, t) for kind, key, t in cues if kind == "notice"]
    assert [key for key, _ in said] == ["Heat off: the heat budget for this stretch is used up."]
    # its words were synthesised when it came (virtual time runs on meanwhile), so it is said after it
    assert said[0][1] >= notices[0].session_t
