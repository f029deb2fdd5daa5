"""Fixtures: a real firmware served as a GATT peripheral on Bumble's virtual radio."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.sim.ble.ble_support import GUN, SHIATSU, Rig, serve


@pytest.fixture
async def gun() -> AsyncIterator[Rig]:
    async with serve(GUN) as rig:
        yield rig


@pytest.fixture
async def cushion() -> AsyncIterator[Rig]:
    async with serve(SHIATSU) as rig:
        yield rig
