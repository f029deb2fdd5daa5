"""WAV data in memory: loudness, and what is refused (pure)."""

from __future__ import annotations

import pytest

from massager_ctl.errors import VoiceError
from massager_ctl.voice.wavs import Pcm, chime, read_wav, rms, write_wav


def test_silence_is_quiet_and_bad_data_is_refused() -> None:
    silence = Pcm(22050, 1, b"\0\0" * 22050)
    assert rms(read_wav(write_wav(silence))) == 0.0
    with pytest.raises(VoiceError, match="not a WAV file"):
        read_wav(b"RIFF not really")
    eight_bit = write_wav(silence)
    eight_bit = eight_bit[:34] + (8).to_bytes(2, "little") + eight_bit[36:]  # bits per sample
    with pytest.raises(VoiceError, match="expected 16-bit audio"):
        read_wav(eight_bit)


def test_the_chime_is_two_audible_notes_and_a_gap() -> None:
    frames = chime(16000)
    pcm = Pcm(16000, 1, frames)
    assert pcm.duration_s == pytest.approx(2 * 0.18 + 0.25, abs=0.001)
    notes = Pcm(16000, 1, frames[: int(0.36 * 16000) * 2])
    assert rms(notes) > 0.05
    assert rms(Pcm(16000, 1, frames[-int(0.25 * 16000) * 2 :])) == 0.0
