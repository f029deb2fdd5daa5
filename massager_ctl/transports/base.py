"""The transport interface: one byte link to one device.

A transport moves bytes and nothing else: it knows neither frames' meaning nor
the protocol family. Foreign exceptions (``BleakError``, ``SerialException``,
``OSError``, ``TimeoutError``) stop here and come out as the project's errors.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self


class Transport(abc.ABC):
    """A link that sends and receives chunks of bytes.

    ``message_oriented`` links (BLE, the in-memory virtual link) deliver exactly
    one frame per :meth:`recv`; stream links (serial, TCP) deliver whatever
    bytes arrived, and the protocol family cuts them into frames.
    """

    message_oriented: bool = False

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Where the link goes, for messages (``serial:///dev/pts/3``, ``ble://AA:BB:...``)."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Open the link.

        Raises:
            ConnectError: the link could not be opened.
            DeviceNotFoundError: nothing answered at the address.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the link. Safe to call twice, and after the link was lost."""

    @abc.abstractmethod
    async def send(self, data: bytes) -> None:
        """Send one frame or line.

        Raises:
            LinkLostError: the link is down.
        """

    @abc.abstractmethod
    async def recv(self) -> bytes:
        """The next chunk from the device (one frame on message-oriented links).

        Raises:
            LinkLostError: the link dropped or was closed.
        """
