"""WAV data in memory: the warning chime, prepending it to speech, and loudness.

Works on bytes only (no files): 16-bit PCM, any rate, any channel count.
"""

from __future__ import annotations

import array
import io
import math
import sys
import wave
from dataclasses import dataclass

from massager_ctl.errors import VoiceError

#: The chime: two short notes, a fifth apart, fading out.
CHIME_NOTES_HZ = (880.0, 1318.5)
CHIME_NOTE_S = 0.18
CHIME_GAP_S = 0.25
CHIME_PEAK = 0.35


@dataclass(frozen=True, slots=True)
class Pcm:
    """Decoded 16-bit PCM audio."""

    rate: int
    channels: int
    frames: bytes

    @property
    def duration_s(self) -> float:
        return len(self.frames) / (2 * self.channels * self.rate)


def read_wav(data: bytes) -> Pcm:
    """Decode a 16-bit PCM WAV.

    Raises:
        VoiceError: not a WAV, or not 16-bit PCM.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            if w.getsampwidth() != 2:
                raise VoiceError(f"expected 16-bit audio, got {8 * w.getsampwidth()}-bit")
            return Pcm(rate=w.getframerate(), channels=w.getnchannels(), frames=w.readframes(w.getnframes()))
    except (wave.Error, EOFError) as e:
        raise VoiceError(f"not a WAV file: {e}") from e


def write_wav(pcm: Pcm) -> bytes:
    """Encode PCM audio as a WAV file's bytes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(pcm.channels)
        w.setsampwidth(2)
        w.setframerate(pcm.rate)
        w.writeframes(pcm.frames)
    return out.getvalue()


def chime(rate: int, channels: int = 1) -> bytes:
    """The warning chime as 16-bit PCM frames at ``rate`` (with a short silence after it)."""
    samples = array.array("h")
    for note in CHIME_NOTES_HZ:
        count = int(CHIME_NOTE_S * rate)
        for i in range(count):
            fade = 1.0 - i / count
            value = CHIME_PEAK * fade * fade * math.sin(2 * math.pi * note * i / rate)
            samples.extend([int(value * 32767)] * channels)
    samples.extend([0] * int(CHIME_GAP_S * rate) * channels)
    return _little_endian(samples)


def with_chime(speech: bytes) -> bytes:
    """A WAV file's bytes with the chime in front of ``speech`` (a WAV file's bytes).

    Raises:
        VoiceError: ``speech`` is not a 16-bit PCM WAV.
    """
    pcm = read_wav(speech)
    return write_wav(Pcm(pcm.rate, pcm.channels, chime(pcm.rate, pcm.channels) + pcm.frames))


def rms(pcm: Pcm) -> float:
    """Root mean square of the samples, 0 (silence) to 1 (full scale)."""
    samples = array.array("h")
    samples.frombytes(pcm.frames)
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768


def _little_endian(samples: array.array[int]) -> bytes:
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()
