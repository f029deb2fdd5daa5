"""Fixtures for driver tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from massager_ctl.catalog import Catalog

# The helpers live beside this file; with --import-mode=importlib the folder is not on sys.path.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog()
