"""Spoken cues: what a session says (:mod:`.cues`), the speech engine (:mod:`.engine`), the
player that says each cue on the session clock (:mod:`.player`), where the sound goes
(:mod:`.outputs`), and the wiring around a run (:mod:`.session`)."""

from massager_ctl.voice.cues import Cue, CueSheet, plan_cues
from massager_ctl.voice.engine import CueAudio, Espeak
from massager_ctl.voice.outputs import DirectoryOutput, SpeakerOutput, find_player
from massager_ctl.voice.player import CuePlayer, SessionClock
from massager_ctl.voice.session import VoiceSettings, spoken_cues, voice_settings

__all__ = [
    "Cue",
    "CueAudio",
    "CuePlayer",
    "CueSheet",
    "DirectoryOutput",
    "Espeak",
    "SessionClock",
    "SpeakerOutput",
    "VoiceSettings",
    "find_player",
    "plan_cues",
    "spoken_cues",
    "voice_settings",
]
