"""The suite's own rule: a test that starts a process carries the ``slow`` mark, or it fails."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.conftest import ProcessInFastTestError
from tests.examples import FAST_ENV, examples


def test_a_test_without_the_slow_mark_cannot_start_a_process() -> None:
    with pytest.raises(ProcessInFastTestError, match=r"is not marked @pytest\.mark\.slow"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


async def test_nor_an_asyncio_subprocess() -> None:
    with pytest.raises(ProcessInFastTestError, match="test_nor_an_asyncio_subprocess starts a process"):
        await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")


@pytest.mark.slow
def test_a_slow_test_can() -> None:
    assert subprocess.run([sys.executable, "-c", "pass"], check=True).returncode == 0


def test_the_inner_loop_tries_a_fifth_of_the_random_examples_and_the_full_run_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(FAST_ENV, raising=False)
    assert (examples(300), examples(100), examples(20)) == (300, 100, 20)
    monkeypatch.setenv(FAST_ENV, "1")  # as ./scripts/test --fast sets it
    assert (examples(300), examples(100), examples(20)) == (60, 20, 10)
