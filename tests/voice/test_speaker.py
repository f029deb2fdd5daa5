"""Playback through a player process, in real time: speech never holds up the session, a new step
cuts off words that are out of date, and the last words are let finish."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from massager_ctl.orchestrator import Plan
from massager_ctl.voice.session import VoiceSettings, spoken_cues
from tests.orchestrator.orch_support import Rig, make_plan
from tests.voice.voice_support import espeak

pytestmark = pytest.mark.slow

#: Plays a WAV as a sound card would (taking as long as the sound lasts) and notes what it did.
PLAYER = """\
import sys, time, wave
log, path = sys.argv[1], sys.argv[2]
with wave.open(path) as w:
    seconds = w.getnframes() / w.getframerate()
with open(log, "a") as f:
    f.write(f"start {seconds:.2f}\\n")
time.sleep(seconds)
with open(log, "a") as f:
    f.write("end\\n")
"""
LONG = "Breathe in slowly through the nose, hold it for a moment, then let it all go."


def plan() -> Plan:
    steps = [{"title": f"Step {i}", "duration": 2, "prompt": {"text": LONG}} for i in range(3)]
    plan = make_plan(steps, "serial-cushion-z3")
    routine = plan.routine.model_copy(update={"safety": ["Stop on sharp pain."]})
    return Plan(routine=routine, profile=plan.profile, caps=plan.caps, steps=plan.steps, problems=[])


async def test_speech_never_delays_the_steps_and_the_end_is_heard_out(tmp_path: Path) -> None:
    script, log = tmp_path / "player.py", tmp_path / "played.log"
    script.write_text(PLAYER)
    settings = VoiceSettings(engine=espeak(), player=[sys.executable, str(script), str(log)])
    async with Rig(plan()) as rig:
        async with spoken_cues(rig.session, settings):
            safety_heard = log.read_text().splitlines()
            await rig.run()
            rig.bus.close()
        started = [e.session_t for e in rig.of("step_started")]
    # the safety notes were heard out before the session began
    assert [line.split()[0] for line in safety_heard] == ["start", "end"]
    # every step started on time although each one's words last longer than the step
    assert started == pytest.approx([0, 2, 4], abs=0.05)
    lines = log.read_text().splitlines()[2:]
    # each step's words were cut off by the next step's, the last by the end, which played to its end
    assert [line.split()[0] for line in lines] == ["start", "start", "start", "start", "end"]
    assert min(float(line.split()[1]) for line in lines[:3]) > 2.5  # longer than a step: they were cut


async def test_a_player_that_cannot_start_does_not_stop_the_session(tmp_path: Path) -> None:
    settings = VoiceSettings(engine=espeak(), player=[str(tmp_path / "no-such-player")])
    async with Rig(plan()) as rig, spoken_cues(rig.session, settings):
        result = await asyncio.wait_for(rig.run(), timeout=30)
        rig.bus.close()
    assert result.status == "completed"
