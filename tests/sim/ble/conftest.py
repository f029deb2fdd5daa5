"""Fixtures: a real firmware served as a GATT peripheral on Bumble's virtual radio."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The helpers live beside this file; with --import-mode=importlib the folder is not on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from ble_support import GUN, SHIATSU, Rig, serve


@pytest.fixture
async def gun() -> AsyncIterator[Rig]:
    async with serve(GUN) as rig:
        yield rig


@pytest.fixture
async def cushion() -> AsyncIterator[Rig]:
    async with serve(SHIATSU) as rig:
        yield rig
