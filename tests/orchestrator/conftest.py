"""Helpers for the orchestrator tests live in ``orch_support`` beside this file."""
