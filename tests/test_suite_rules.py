"""The suite's own rule: a test that starts a process carries the ``slow`` mark, or it fails."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.conftest import ProcessInFastTestError


def test_a_test_without_the_slow_mark_cannot_start_a_process() -> None:
    with pytest.raises(ProcessInFastTestError, match=r"is not marked @pytest\.mark\.slow"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


async def test_nor_an_asyncio_subprocess() -> None:
    with pytest.raises(ProcessInFastTestError, match="test_nor_an_asyncio_subprocess starts a process"):
        await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")


@pytest.mark.slow
def test_a_slow_test_can() -> None:
    assert subprocess.run([sys.executable, "-c", "pass"], check=True).returncode == 0
