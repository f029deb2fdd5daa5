"""Fixtures for driver tests."""

from __future__ import annotations

import pytest

from massager_ctl.catalog import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog()
