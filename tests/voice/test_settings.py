"""``--voice/--no-voice``, ``--voice-rate`` and ``--audio-out`` turned into settings (or silence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from massager_ctl.errors import ConfigError
from massager_ctl.voice.session import voice_settings
from tests.voice.voice_support import espeak


@pytest.fixture
def only_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with espeak-ng and no audio player; returns its folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "espeak-ng").symlink_to(espeak().binary)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_without_a_player_the_voice_is_off_with_one_notice(only_espeak: Path) -> None:
    notices: list[str] = []
    assert voice_settings(voice=None, rate=160, audio_out=None, notice=notices.append) is None
    assert notices == ["voice off: no audio player found (pw-play, paplay or aplay)"]


def test_a_player_on_the_path_turns_the_voice_on(only_espeak: Path) -> None:
    (only_espeak / "paplay").write_text("#!/bin/sh\n")
    (only_espeak / "paplay").chmod(0o755)
    notices: list[str] = []
    settings = voice_settings(voice=None, rate=200, audio_out=None, notice=notices.append)
    assert settings is not None
    assert settings.player == [str(only_espeak / "paplay")]
    assert settings.engine.rate == 200
    assert notices == []


def test_without_espeak_the_voice_is_off_or_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    notices: list[str] = []
    assert voice_settings(voice=None, rate=160, audio_out=None, notice=notices.append) is None
    assert notices == [
        "voice off: the speech engine espeak-ng is not installed (Debian: apt-get install espeak-ng)"
    ]
    with pytest.raises(ConfigError, match="--audio-out needs speech: the speech engine espeak-ng"):
        voice_settings(voice=None, rate=160, audio_out=tmp_path / "out", notice=notices.append)


def test_audio_out_needs_no_player_and_no_voice_means_none(only_espeak: Path, tmp_path: Path) -> None:
    settings = voice_settings(voice=None, rate=160, audio_out=tmp_path / "out", notice=print)
    assert settings is not None
    assert (settings.player, settings.audio_out) == (None, tmp_path / "out")
    assert voice_settings(voice=False, rate=160, audio_out=None, notice=print) is None
