"""Helpers for the spoken-cue tests: the installed speech engine, and reading what a session said."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from massager_ctl.voice.engine import Espeak

INSTALL_HINT = "install espeak-ng and sox (scripts/test does: apt-get install espeak-ng sox)"
#: Speech is well above this RMS (full scale 1.0); silence and a bare chime tail are below it.
SPEECH_RMS_FLOOR = 0.02


def espeak(rate: int = 160) -> Espeak:
    engine = Espeak.find(rate=rate)
    assert engine is not None, f"espeak-ng is not installed: {INSTALL_HINT}"
    return engine


def cue_lines(directory: Path) -> list[dict[str, Any]]:
    """The lines of ``cues.jsonl`` in ``directory``, in order."""
    return [json.loads(line) for line in (directory / "cues.jsonl").read_text().splitlines()]


def to_16k_raw(wav: Path) -> bytes:
    """16 kHz mono 16-bit samples of ``wav`` (what the recogniser takes), resampled by sox."""
    sox = shutil.which("sox")
    assert sox is not None, f"sox is not installed: {INSTALL_HINT}"
    command = [sox, str(wav), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", "-"]
    return subprocess.run(command, capture_output=True, check=True, timeout=30).stdout
