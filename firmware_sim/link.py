"""An in-memory link to the firmware, for the controller's ``virtual`` transport (python-can style)."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from firmware_sim.serial_link import SerialFirmware


class VirtualLink:
    """The controller's end of an in-memory link to a running firmware (a reference model's or a product's).

    mbin: one :meth:`send` is one frame (one BLE write) and :meth:`recv` returns one frame (one
    notification). mascii: :meth:`send` takes any bytes of the stream and :meth:`recv` returns one whole
    line including ``\\r\\n``.

    Raises:
        ConnectionRefusedError: (on creation) an injected link drop is in progress.
    """

    def __init__(self, firmware: SerialFirmware) -> None:
        self._firmware = firmware
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._reason: str | None = None
        self._send = self._deliver  # one bound-method object, so the firmware can tell this link apart
        firmware.connect(self._send)
        self._unsubscribe = firmware.on_link_drop(self._dropped)

    @property
    def connected(self) -> bool:
        return self._reason is None

    async def send(self, data: bytes) -> None:
        """Bytes to the firmware.

        Raises:
            ConnectionResetError: the link was dropped or closed.
        """
        if self._reason is not None:
            raise ConnectionResetError(self._reason)
        self._firmware.receive(bytes(data))

    async def recv(self) -> bytes:
        """The next frame or line from the firmware.

        Raises:
            ConnectionResetError: the link was dropped (injected fault) or closed.
        """
        if self._reason is not None:
            raise ConnectionResetError(self._reason)
        item = await self._queue.get()
        if item is None:
            raise ConnectionResetError(self._reason or "link closed")
        return item

    def recv_nowait(self) -> bytes | None:
        """The next frame or line if one is already waiting, else ``None``.

        Raises:
            ConnectionResetError: the link was dropped or closed.
        """
        if self._reason is not None:
            raise ConnectionResetError(self._reason)
        if self._queue.empty():
            return None
        item = self._queue.get_nowait()
        if item is None:
            raise ConnectionResetError(self._reason or "link closed")
        return item

    async def aclose(self) -> None:
        """Close the link; idempotent."""
        if self._close("link closed"):
            self._firmware.disconnect(self._send)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _deliver(self, data: bytes) -> None:
        if self._reason is None:
            self._queue.put_nowait(data)

    def _dropped(self) -> None:
        self._close("link dropped by the device")

    def _close(self, reason: str) -> bool:
        if self._reason is not None:
            return False
        self._reason = reason
        self._unsubscribe()
        self._queue.put_nowait(None)  # wake a pending recv()
        return True
