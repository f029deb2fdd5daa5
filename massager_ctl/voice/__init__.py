"""Spoken cues: what a session says (:mod:`.cues`), the speech engine (:mod:`.engine`), the
player that says each cue on the session clock (:mod:`.player`), where the sound goes
(:mod:`.outputs`), and the wiring around a run (:mod:`.session`).

Import the submodules: this package imports nothing, so a command that does not speak
(``--help``, the catalog commands) loads none of it.
"""
