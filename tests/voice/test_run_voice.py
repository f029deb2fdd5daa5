"""``run --audio-out`` and the voice options as a user runs them: real processes, real espeak-ng,
and an offline recogniser (pocketsphinx) listening to what was said."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
from pocketsphinx import Decoder

from massager_ctl.voice.wavs import read_wav, rms
from tests.process_support import cli_env
from tests.voice.voice_support import SPEECH_RMS_FLOOR, cue_lines, espeak, to_16k_raw

pytestmark = pytest.mark.slow

ROUTINE = """\
id: voice-check
title: Voice check
summary: A foam roller, a ball head on each shoulder, then the fork.
areas: [upper-back]
tools: [foam-roller, electric-massager]
safety:
  - Never on the spine.
steps:
  - title: Foam roller, upper back
    duration: 25
    prompt: {text: Lie on the foam roller., tool: foam-roller}
  - repeat: {sides: [left, right]}
    steps:
      - title: Ball head, {side} shoulder
        duration: 25
        device: {head: ball, intensity: 0.4}
        prompt: {text: "Rest the ball head on your {side} shoulder.", tool: electric-massager}
  - title: Fork beside the spine
    duration: 25
    device: {head: fork, intensity: 0.4}
    prompt: {text: Set the fork beside the spine., tool: electric-massager}
"""
#: Key words and the cues they are said in; the recogniser must find each in exactly those cues.
KEY_PHRASES = {
    "foam roller": {"Foam roller, upper back. Lie on the foam roller."},
    "fork head": {"Ten seconds, then fit the fork head.", "Fit the fork head, then confirm."},
    "left shoulder": {"Ball head, left shoulder. Rest the ball head on your left shoulder."},
    "right shoulder": {"Ball head, right shoulder. Rest the ball head on your right shoulder."},
}
#: A voiced session: its events, its cues (cues.jsonl) and the directory of cue files.
Voiced = tuple[list[dict[str, Any]], list[dict[str, Any]], Path]
#: Session seconds a cue may be off its moment.
LATENESS_S = 0.15


def run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "massager_ctl", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def routine(tmp_path: Path) -> Path:
    path = tmp_path / "voice-check.yaml"
    path.write_text(ROUTINE)
    return path


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Voiced:
    """One voiced rehearsal at 5x speed: its events, its cues and the cue directory."""
    tmp = tmp_path_factory.mktemp("voiced")
    (tmp / "voice-check.yaml").write_text(ROUTINE)
    out, events = tmp / "cues", tmp / "events.jsonl"
    result = run(
        str(tmp / "voice-check.yaml"), "--device", "sim://pulse-gun-p5?link=virtual", "--speed", "5", "--yes",
        "--audio-out", str(out), "--events", str(events), env=cli_env(tmp),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "session completed" in result.stdout
    return [json.loads(line) for line in events.read_text().splitlines()], cue_lines(out), out


def test_every_step_is_said_at_its_start_on_the_session_clock(
    session: Voiced,
) -> None:
    events, cues, _ = session
    started = [e for e in events if e["type"] == "step_started"]
    assert [e["index"] for e in started] == [0, 1, 2, 3]
    for event in started:
        said = [c for c in cues if c["kind"] == "step" and c.get("step") == event["index"]]
        assert len(said) == 1, f"step {event['index']}: {said}"
        assert said[0]["t"] == pytest.approx(event["session_t"], abs=LATENESS_S)
        assert said[0]["text"].startswith(event["title"])
    # ten seconds before each step ends, with what comes next
    finished = {e["index"]: e["session_t"] for e in events if e["type"] == "step_finished"}
    warnings = {c["step"]: c for c in cues if c["kind"] == "warning"}
    assert warnings[1]["text"] == "Ten seconds, then switch sides."
    for index, cue in warnings.items():
        assert cue["t"] == pytest.approx(finished[index] - 10, abs=LATENESS_S)
    kinds = [c["kind"] for c in cues]
    assert kinds[0] == "safety"
    assert kinds[-1] == "end"
    assert cues[-1]["text"] == "Session complete. Well done."
    assert cues[-1]["t"] == pytest.approx(events[-1]["session_t"], abs=LATENESS_S)
    assert "head_change" in kinds  # the fork is fitted by hand (here: by --yes on the simulator)


def test_the_cue_files_are_valid_speech(session: Voiced) -> None:
    _, cues, out = session
    assert len({c["file"] for c in cues}) == len(cues)
    for cue in cues:
        with wave.open(str(out / cue["file"]), "rb") as w:
            assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        pcm = read_wav((out / cue["file"]).read_bytes())
        assert pcm.duration_s > 0.5, cue
        assert rms(pcm) > SPEECH_RMS_FLOOR, cue


def test_a_recogniser_hears_the_key_words(session: Voiced) -> None:
    _, cues, out = session
    audio = {c["text"]: to_16k_raw(out / c["file"]) for c in cues}
    assert {text for said in KEY_PHRASES.values() for text in said} <= set(audio)
    for phrase, said_in in KEY_PHRASES.items():
        decoder = Decoder(samprate=16000, keyphrase=phrase, kws_threshold=1e-20, lm=None, logfn=os.devnull)
        heard = set()
        for text, samples in audio.items():
            decoder.start_utt()
            decoder.process_raw(samples, full_utt=True)
            decoder.end_utt()
            if decoder.hyp() is not None:
                heard.add(text)
        assert heard == said_in, phrase


def test_without_an_audio_player_voice_is_off_unless_asked_for(routine: Path, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "espeak-ng").symlink_to(espeak().binary)
    env["PATH"] = str(bin_dir)
    args = [str(routine), "--device", "sim://pulse-gun-p5?link=virtual", "--speed", "50", "--yes"]
    result = run(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no terminal: the "voice off" notice is for a person at one
    assert "session completed" in result.stdout
    asked = run(*args, "--voice", env=env)
    assert asked.returncode == 2
    assert "--voice needs speech: no audio player found" in asked.stderr


def test_voice_plays_through_the_systems_player(routine: Path, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "espeak-ng").symlink_to(espeak().binary)
    played = tmp_path / "played.log"
    aplay = bin_dir / "aplay"  # stands in for the sound card: notes each file, plays it in no time
    aplay.write_text(f'#!/bin/sh\necho "$@" >> {played}\n')
    aplay.chmod(0o755)
    env["PATH"] = f"{bin_dir}:/bin:/usr/bin"
    device = "sim://pulse-gun-p5?link=virtual"
    result = run(str(routine), "--device", device, "--speed", "10", "--yes", env=env)
    assert result.returncode == 0, result.stderr
    lines = played.read_text().splitlines()
    assert all(line.startswith("-q /") and line.endswith(".wav") for line in lines)
    # the safety notes, 4 steps, 4 warnings, the head change and the end, each played once
    assert len(lines) == len(set(lines)) == 11
    assert all(not Path(line.split()[-1]).exists() for line in lines)  # synthesised audio is cleaned up


def test_bad_voice_options_are_refused_before_anything_moves(routine: Path, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    args = [str(routine), "--device", "sim://pulse-gun-p5?link=virtual", "--yes"]
    rate = run(*args, "--voice-rate", "20", "--audio-out", str(tmp_path / "out"), env=env)
    assert rate.returncode == 2
    assert "--voice-rate must be 80–450 words per minute, not 20" in rate.stderr
    both = run(*args, "--no-voice", "--audio-out", str(tmp_path / "out"), env=env)
    assert both.returncode == 2
    assert "--audio-out writes spoken cues; it cannot go with --no-voice" in both.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "file").write_text("")
    taken = run(*args, "--audio-out", str(tmp_path / "file"), env=env)
    assert taken.returncode == 2
    assert "is a file; give a directory to write the cues to" in taken.stderr
