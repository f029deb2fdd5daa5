"""Fixtures for driver tests."""

from __future__ import annotations

import asyncio

import looptime
import pytest

from massager_ctl.catalog import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog()


@pytest.fixture
def cli_in_virtual_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event loop the in-process CLI starts (its ``asyncio.run``) keeps virtual time (looptime).

    Only for CLI runs on in-memory links (the Bumble radio, ``link=virtual``): nothing can arrive
    from outside such a loop, so moving its clock to the next timer changes no outcome, and it
    needs no idle passes before each move (see ``IN_MEMORY``; looptime still waits for the
    journal's executor writes).
    """

    def new_event_loop() -> asyncio.AbstractEventLoop:
        return looptime.new_event_loop(noop_cycles=0)

    # asyncio.run's Runner makes its loop with asyncio.events.new_event_loop
    monkeypatch.setattr(asyncio.events, "new_event_loop", new_event_loop)
