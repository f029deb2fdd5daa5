"""The command gate on its own: one answer per command, "busy" before any work, a stop never refused."""

from __future__ import annotations

import asyncio

import pytest

from massager_ctl.errors import ConfigError
from massager_ctl.orchestrator.commands import (
    Answer,
    Command,
    CommandError,
    Pause,
    StopCommand,
    parse_command,
)
from massager_ctl.orchestrator.gate import CommandGate
from massager_ctl.orchestrator.ratelimit import Rate, RateLimiter
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY


class Executor:
    """Notes each command; stops wait until released; a pause with id 'bug' or 'bad' fails."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.carried_out: list[object] = []  # the commands' ids

    async def execute(self, command: Command) -> str:
        self.carried_out.append(command.id)
        if isinstance(command, StopCommand):
            await self.release.wait()
            return f"stopped by {command.id}"
        if command.id == "bug":
            raise RuntimeError("boom\nsecond line")
        if command.id == "bad":
            raise ConfigError("not now")
        return "paused"


def one_token() -> RateLimiter:
    rate = Rate(per_s=0.001, burst=1.0)
    return RateLimiter(clock=asyncio.get_running_loop().time, client_rate=rate, total_rate=rate)


async def test_over_the_rate_a_command_is_answered_busy_at_once_and_never_carried_out() -> None:
    executor = Executor()
    gate = CommandGate(executor, limiter=one_token())
    first = gate.submit(Pause(id="a", client="phone"))
    second = gate.submit(Pause(id="b", client="phone"))
    assert second.done()  # decided on arrival, without waiting for anything
    assert second.result() == Answer(
        ok=False,
        action="pause",
        id="b",
        client="phone",
        busy=True,
        message="busy: too many commands; send it again in a moment",
    )
    assert await first == Answer(ok=True, action="pause", id="a", client="phone", message="paused")
    assert executor.carried_out == ["a"]


async def test_stops_skip_the_limit_and_share_the_one_in_progress_until_another_command_comes() -> None:
    executor = Executor()
    gate = CommandGate(executor, limiter=one_token())
    a = gate.submit(StopCommand(id="a"))
    b = gate.submit(StopCommand(id="b", client="phone"))
    c = gate.submit(Pause(id="c"))
    d = gate.submit(StopCommand(id="d"))  # after the pause: a stop of its own
    await asyncio.sleep(1)
    assert executor.carried_out == ["a", "c", "d"]
    executor.release.set()
    assert (await a).message == "stopped by a"
    assert await b == Answer(ok=True, action="stop", id="b", client="phone", message="stopped by a")
    assert (await c).ok
    assert (await d).message == "stopped by d"
    await gate.close()


async def test_malformed_refused_and_crashing_commands_each_get_one_error_answer() -> None:
    gate = CommandGate(Executor())
    with pytest.raises(CommandError) as malformed:
        parse_command(b'{"action": "pause", "id": "m", "extra": 1}')
    answer = gate.submit(malformed.value)
    assert answer.done()
    assert answer.result() == Answer(
        ok=False, action="pause", id="m", message="extra: Extra inputs are not permitted"
    )
    assert await gate.handle(Pause(id="bad")) == Answer(ok=False, action="pause", id="bad", message="not now")
    crashed = await gate.handle(Pause(id="bug"))
    assert crashed.message == "internal error: boom second line"
