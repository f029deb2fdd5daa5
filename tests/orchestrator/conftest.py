"""Helpers for the orchestrator tests live in ``orch_support`` beside this file."""

import sys
from pathlib import Path

# With --import-mode=importlib the folder is not on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
