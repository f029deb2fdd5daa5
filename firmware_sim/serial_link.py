"""Serial front-ends: a pty pair or a TCP port carrying the firmware's byte stream.

The pty keeps its slave end open, so a controller that closes (or is killed) leaves the pair intact for
the next one; both ends are raw, and the baud rate a controller sets on the slave is irrelevant. A
device that overflows its output (nobody reading) loses bytes, as a UART without flow control would.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import tty
from collections.abc import Callable
from typing import Protocol

from firmware_sim.firmware import Firmware

log = logging.getLogger(__name__)

_READ_SIZE = 4096


class SerialFirmware(Protocol):
    """What a pty needs from a firmware (:class:`Firmware`, or a real product's ``ProductFirmware``)."""

    def connect(self, send: Callable[[bytes], None]) -> None: ...

    def receive(self, data: bytes) -> None: ...

    def disconnect(self, send: Callable[[bytes], None] | None = None) -> None: ...

    def on_link_drop(self, callback: Callable[[], None]) -> Callable[[], None]: ...

    def on_link_restore(self, callback: Callable[[], None]) -> Callable[[], None]: ...


class PtyFrontEnd:
    """The firmware behind a pseudo-terminal; controllers open :attr:`path` like a USB-serial port."""

    def __init__(self, firmware: SerialFirmware) -> None:
        self._firmware = firmware
        self._master = -1
        self._slave = -1
        self._paused = False
        self._send = self._write
        self._drops: list[Callable[[], None]] = []
        self.path = ""

    def open(self) -> str:
        """Create the pty pair and start serving; returns the slave's path.

        Raises:
            OSError: no pty could be created.
        """
        loop = asyncio.get_running_loop()
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        loop.add_reader(self._master, self._readable)
        self._drops = [
            self._firmware.on_link_drop(self._link_dropped),
            self._firmware.on_link_restore(self._link_back),
        ]
        try:
            self._firmware.connect(self._send)
        except ConnectionRefusedError:
            # held by another program: a controller opening the port exclusively is refused
            fcntl.flock(self._slave, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self.path

    def close(self) -> None:
        """Stop serving and close both ends; idempotent."""
        if self._master < 0:
            return
        for unregister in self._drops:
            unregister()
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            asyncio.get_running_loop().remove_reader(self._master)
        self._firmware.disconnect(self._send)
        os.close(self._master)
        os.close(self._slave)
        self._master = self._slave = -1

    def _readable(self) -> None:
        try:
            data = os.read(self._master, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            log.warning("pty read failed: %s", e)
            return
        if data and not self._paused:
            self._firmware.receive(data)

    def _write(self, data: bytes) -> None:
        if self._master < 0 or self._paused:
            return
        try:
            os.write(self._master, data)
        except (BlockingIOError, InterruptedError):
            log.debug("pty output full, %d bytes lost", len(data))
        except OSError as e:
            log.warning("pty write failed: %s", e)

    def _link_dropped(self) -> None:
        # A pty cannot hang up; an unplugged cable is silence both ways.
        self._paused = True

    def _link_back(self) -> None:
        self._paused = False
        if self._master >= 0:
            self._firmware.connect(self._send)


class TcpFrontEnd:
    """The firmware behind a TCP port (a serial-over-TCP bridge); one client at a time, the newest wins."""

    def __init__(self, firmware: Firmware) -> None:
        self._firmware = firmware
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._unregister: Callable[[], None] = lambda: None
        self.port = 0

    async def open(self, host: str, port: int) -> int:
        """Listen; returns the bound port.

        Raises:
            OSError: the address could not be bound.
        """
        self._server = await asyncio.start_server(self._accept, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._unregister = self._firmware.on_link_drop(self._link_dropped)
        return self.port

    async def aclose(self) -> None:
        """Stop listening and drop the client; idempotent."""
        if self._server is None:
            return
        server, self._server = self._server, None
        self._unregister()
        server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Our own task, not a coroutine handed back to asyncio: Python 3.11's stream protocol asks a
        # cancelled handler task for its exception() and logs the CancelledError as an error.
        task = asyncio.get_running_loop().create_task(self._client(reader, writer), name="sim-tcp-client")
        self._handlers.add(task)
        task.add_done_callback(self._client_done)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        send = writer.write
        try:
            if not self._firmware.link_available:
                return  # the "cable" is unplugged: accept and hang up
            if self._writer is not None:
                self._writer.close()
            self._writer = writer
            self._firmware.connect(send)
            while data := await reader.read(_READ_SIZE):
                if self._writer is writer:
                    self._firmware.receive(data)
        except (ConnectionError, OSError) as e:
            log.debug("tcp client gone: %s", e)
        finally:
            if self._writer is writer:
                self._writer = None
            self._firmware.disconnect(send)
            writer.close()

    def _client_done(self, task: asyncio.Task[None]) -> None:
        self._handlers.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("tcp client handler failed", exc_info=error)

    def _link_dropped(self) -> None:
        if self._writer is not None:
            self._writer.transport.abort()
            self._writer = None
