"""The speech engine (the real espeak-ng) and the WAV files it makes, with the chime."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from massager_ctl.errors import VoiceError
from massager_ctl.voice.cues import Cue, CueSheet
from massager_ctl.voice.engine import CueAudio, Espeak
from massager_ctl.voice.wavs import CHIME_GAP_S, CHIME_NOTE_S, Pcm, read_wav, rms, with_chime
from tests.voice.voice_support import SPEECH_RMS_FLOOR, espeak

pytestmark = pytest.mark.slow  # espeak-ng runs as a process


def test_espeak_speaks_into_a_valid_wav(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    espeak().synthesise("Ten seconds, then switch sides.", out)
    with wave.open(str(out), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        assert w.getframerate() >= 16000
    pcm = read_wav(out.read_bytes())
    assert 1.0 < pcm.duration_s < 5.0
    assert rms(pcm) > SPEECH_RMS_FLOOR


def test_the_rate_changes_how_long_it_takes(tmp_path: Path) -> None:
    text = "Lie back on the foam roller and breathe slowly."
    espeak(rate=100).synthesise(text, tmp_path / "slow.wav")
    espeak(rate=300).synthesise(text, tmp_path / "fast.wav")
    slow = read_wav((tmp_path / "slow.wav").read_bytes()).duration_s
    fast = read_wav((tmp_path / "fast.wav").read_bytes()).duration_s
    assert slow > 2 * fast


def test_a_missing_engine_is_a_voice_error(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="cannot run espeak-ng"):
        Espeak(str(tmp_path / "no-such-espeak")).synthesise("hello", tmp_path / "a.wav")


def test_an_engine_failure_carries_its_message(tmp_path: Path) -> None:
    broken = tmp_path / "espeak-ng"
    broken.write_text("#!/bin/sh\necho 'espeak-ng: no voices found' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(VoiceError, match=r"espeak-ng failed on 'hello': espeak-ng: no voices found"):
        Espeak(str(broken)).synthesise("hello", tmp_path / "a.wav")


def test_an_unwritten_file_is_an_error_although_espeak_exits_0(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match=r"espeak-ng wrote no audio for 'hello': .*write"):
        espeak().synthesise("hello", tmp_path / "no-such-dir" / "a.wav")


def test_the_chime_comes_before_the_words(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    espeak().synthesise("Ten seconds.", out)
    speech = read_wav(out.read_bytes())
    chimed = read_wav(with_chime(out.read_bytes()))
    assert chimed.rate == speech.rate
    added = chimed.duration_s - speech.duration_s
    assert added == pytest.approx(2 * CHIME_NOTE_S + CHIME_GAP_S, abs=0.01)
    assert chimed.frames.endswith(speech.frames)
    notes = Pcm(chimed.rate, 1, chimed.frames[: int(2 * CHIME_NOTE_S * chimed.rate) * 2])
    assert rms(notes) > SPEECH_RMS_FLOOR  # audible, not a gap


async def test_cue_audio_makes_each_sound_once_ahead_of_time(tmp_path: Path) -> None:
    cues = (
        Cue("step", "Foam roller.", "step_start", 0),
        Cue("warning", "Ten seconds, then switch sides.", "warning", 0, chime=True),
        Cue("warning", "Ten seconds, then switch sides.", "warning", 1, chime=True),
        Cue("step", "Ten seconds, then switch sides.", "step_start", 1),  # same words, no chime
    )
    audio = CueAudio(espeak(), tmp_path)
    try:
        assert audio.ready(cues[0]) is None
        audio.start(CueSheet(cues))
        await audio.wait_all()
        files = [audio.ready(c) for c in cues]
        assert all(f is not None and f.exists() for f in files)
        assert files[1] == files[2] != files[3]
        assert len({f.name for f in files if f is not None}) == 3
        assert await audio.wait(cues[2]) == files[2]
        with pytest.raises(VoiceError, match="no audio was queued"):
            await audio.wait(Cue("paused", "Paused.", "paused"))
    finally:
        audio.close()


async def test_a_failed_synthesis_is_reported_by_wait_all(tmp_path: Path) -> None:
    audio = CueAudio(espeak(), tmp_path / "no-such-dir")
    cue = Cue("paused", "Paused.", "paused")
    try:
        audio.start(CueSheet((cue,)))
        with pytest.raises(VoiceError, match=r"wrote no audio for 'Paused\.'"):
            await audio.wait_all()
        assert audio.ready(cue) is None
    finally:
        audio.close()
