"""The in-memory virtual link to an in-process simulator (like python-can's ``virtual`` bus).

No bytes leave the process, so the link works under virtual time (looptime):
orchestrator tests and the ``simulate`` dry run use it.
"""

from __future__ import annotations

from typing import Protocol

from massager_ctl.errors import LinkLostError
from massager_ctl.transports.base import Transport


class VirtualLink(Protocol):
    """The simulator's end (``firmware_sim.SimulatedDevice.virtual_link()``)."""

    async def send(self, data: bytes) -> None: ...

    async def recv(self) -> bytes: ...

    async def aclose(self) -> None: ...


class VirtualTransport(Transport):
    """A transport over a :class:`VirtualLink`: one frame (or mascii line) per send and recv."""

    message_oriented = True

    def __init__(self, link: VirtualLink, *, name: str = "virtual") -> None:
        self._link = link
        self._name = name
        self._open = False
        self._closed = False

    @property
    def description(self) -> str:
        return f"virtual link to {self._name}"

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._link.aclose()

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise LinkLostError(f"{self.description} is closed")
        try:
            await self._link.send(data)
        except (ConnectionError, OSError) as e:
            raise LinkLostError(f"{self.description} dropped: {e}") from e

    async def recv(self) -> bytes:
        if self._closed:
            raise LinkLostError(f"{self.description} is closed")
        try:
            return await self._link.recv()
        except (ConnectionError, OSError) as e:
            raise LinkLostError(f"{self.description} dropped: {e}") from e
