"""The front door of a command target: admission, one answer per command, a stop never held up.

:class:`CommandGate` takes each command (or the :class:`CommandError` of one that
did not parse) and decides at once, in the order they arrive, what happens to it:

- over its client's rate or the shared one (see :mod:`~massager_ctl.orchestrator.ratelimit`),
  or beyond :data:`COMMAND_LIMIT` in progress: answered "busy" before any work;
- malformed: answered with the parse error;
- otherwise carried out by the executor as its own task, so a command that waits on the
  device (a head change, a stop while idle) does not hold up the ones after it.

A stop is never refused: it skips both limits, and one that comes while another stop
is still making the device safe shares that stop's outcome (a flood of stops makes one
device round trip), unless any other command came between them. Whatever the executor
raises becomes an error answer; nothing else escapes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from massager_ctl.errors import MassagerError
from massager_ctl.orchestrator.commands import Answer, Command, CommandError, StopCommand
from massager_ctl.orchestrator.ratelimit import RateLimiter
from massager_ctl.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: Commands in progress beyond this are answered "busy" at once instead of started.
COMMAND_LIMIT = 256


class Executor(Protocol):
    """Carries out a validated command; returns a short confirmation. Calls overlap."""

    async def execute(self, command: Command) -> str:
        """Carry out one command.

        Raises:
            CommandError: the command does not apply now (a clear one-line reason).
            MassagerError: the device or the session refused it.
        """
        ...


class CommandTarget(Protocol):
    """What a front end hands commands to (a :class:`CommandGate`, or a service that owns one)."""

    def submit(self, command: Command | CommandError) -> asyncio.Future[Answer]:
        """Admit ``command`` now; its answer when done (see :meth:`CommandGate.submit`)."""
        ...


class CommandGate:
    """Admission control and answers in front of an :class:`Executor`.

    Args:
        executor: carries out the commands let in.
        limiter: the rate limits (default: :class:`RateLimiter` with its default rates on the loop clock).
    """

    def __init__(self, executor: Executor, *, limiter: RateLimiter | None = None) -> None:
        self._executor = executor
        self._limiter = limiter
        self._commands: set[asyncio.Task[Answer]] = set()
        self._stopping: asyncio.Task[Answer] | None = None
        self._stops: set[asyncio.Task[Answer]] = set()
        # Bumped by every other command let in: a stop shares an earlier one's outcome only if
        # nothing (a start, say) came between them.
        self._since_stop = 0

    def submit(self, command: Command | CommandError) -> asyncio.Future[Answer]:
        """Decide on ``command`` now, in arrival order; the future of its one answer.

        A command refused at once (busy, malformed) comes back as a future that is already done,
        so a front end can answer it without waiting. Cancelling the future cancels the command.
        """
        loop = asyncio.get_running_loop()
        if not isinstance(command, StopCommand) and (busy := self._admit(command, loop)) is not None:
            return _done(loop, busy)
        if isinstance(command, CommandError):
            return _done(loop, Answer.to(command, ok=False, message=str(command)))
        # Tasks start in the order they are created: commands begin in the order they arrived.
        if isinstance(command, StopCommand):
            task = asyncio.create_task(self._share(command, self._stop_for(command)), name="command-stop")
        else:
            self._since_stop += 1
            task = asyncio.create_task(self._run(command), name=f"command-{command.action}")
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)
        return task

    async def handle(self, command: Command | CommandError) -> Answer:
        """Carry out ``command`` and return its answer (:meth:`submit`, awaited)."""
        return await self.submit(command)

    async def close(self) -> None:
        """Cancel the commands still in progress and wait for them; safe to call twice."""
        for task in [*self._commands, *self._stops]:
            await cancel_and_wait(task)

    def _admit(self, command: Command | CommandError, loop: asyncio.AbstractEventLoop) -> Answer | None:
        """``None`` if the command may go ahead, else its "busy" answer."""
        if self._limiter is None:
            self._limiter = RateLimiter(clock=loop.time)
        if not self._limiter.admit(command.client):
            reason = "busy: too many commands; send it again in a moment"
        elif len(self._commands) >= COMMAND_LIMIT:
            reason = "busy: too many commands in progress; send it again in a moment"
        else:
            return None
        return Answer.to(command, ok=False, message=reason, busy=True)

    def _stop_for(self, command: StopCommand) -> asyncio.Task[Answer]:
        """The stop that carries out ``command``: a new one, or the one still in progress.

        Stops are never refused, so a flood of them must not each start a device round trip; but a
        stop after any other command (a start, say) is a stop of its own. Decided on arrival, in order.
        """
        if self._stopping is None or self._stopping.done() or self._since_stop:
            self._stopping = asyncio.create_task(self._run(command), name="command-stop-device")
            self._stops.add(self._stopping)
            self._stopping.add_done_callback(self._stops.discard)
            self._since_stop = 0
        return self._stopping

    @staticmethod
    async def _share(command: StopCommand, stop: asyncio.Task[Answer]) -> Answer:
        # Shielded: other stops may share it. Each is answered under its own id and client.
        answer = await asyncio.shield(stop)
        return answer.model_copy(update={"id": command.id, "client": command.client})

    async def _run(self, command: Command) -> Answer:
        try:
            message = await self._executor.execute(command)
        except (CommandError, MassagerError) as e:
            return Answer.to(command, ok=False, message=one_line(e))
        except Exception as e:  # a bug in one command must not end the service
            log.exception("command %s failed", command.action)
            return Answer.to(command, ok=False, message=f"internal error: {one_line(e)}")
        return Answer.to(command, ok=True, message=message)


def one_line(error: BaseException) -> str:
    """An error's message on one line (its type name if it has none)."""
    return " ".join(str(error).split()) or type(error).__name__


def _done(loop: asyncio.AbstractEventLoop, answer: Answer) -> asyncio.Future[Answer]:
    future: asyncio.Future[Answer] = loop.create_future()
    future.set_result(answer)
    return future
