"""Serial transport: pyserial (via pyserial-asyncio-fast) on a port or a pyserial URL.

Every port setting comes from the model's :class:`~massager_ctl.models.device.SerialSpec`.
A ``socket://HOST:PORT`` URL reaches a serial-over-TCP bridge (or the simulator's TCP face).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os

import serial
import serial_asyncio_fast

from massager_ctl.errors import ConnectError, DeviceNotFoundError, LinkLostError
from massager_ctl.models.device import SerialSpec
from massager_ctl.transports.base import Transport

_READ_CHUNK = 4096
_NOT_THERE = (errno.ENOENT, errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENXIO)


def _not_found(e: BaseException) -> bool:
    """Whether an open failure means nothing is at the address (vs. it is there but unusable)."""
    if isinstance(e, OSError) and e.errno in _NOT_THERE:
        return True
    text = str(e)
    return "No such file" in text or "Connection refused" in text


def _reason(e: BaseException) -> str:
    """The cause in words, said once: pyserial's message repeats the errno and the port name."""
    if isinstance(e, OSError) and e.errno in (errno.EAGAIN, errno.EWOULDBLOCK) and "lock" in str(e):
        return "the port is in use by another program (it is opened exclusively)"
    if isinstance(e, OSError) and e.errno is not None:
        return os.strerror(e.errno)
    return str(e)


class SerialTransport(Transport):
    """A serial port (``/dev/ttyUSB0``) or pyserial URL (``socket://127.0.0.1:7000``).

    The port runs non-blocking under asyncio, so the catalog's ``timeout_s`` bounds
    opening the port and ``write_timeout_s`` bounds each write draining to the OS.
    """

    message_oriented = False

    def __init__(self, port: str, spec: SerialSpec) -> None:
        self._port = port
        self._spec = spec
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._closed = False

    @property
    def description(self) -> str:
        return f"serial port {self._port}"

    async def open(self) -> None:
        spec = self._spec
        try:
            async with asyncio.timeout(max(spec.timeout_s, 1.0) * 10):
                self._reader, self._writer = await serial_asyncio_fast.open_serial_connection(
                    url=self._port,
                    baudrate=spec.baudrate,
                    bytesize=spec.bytesize,
                    parity=spec.parity,
                    stopbits=spec.stopbits,
                    timeout=spec.timeout_s,
                    write_timeout=spec.write_timeout_s,
                    xonxoff=False,
                    rtscts=False,
                    dsrdtr=False,
                    # two programs writing keys to one device would fight: one holder at a time
                    exclusive=True,
                )
        except (serial.SerialException, OSError, ValueError, TimeoutError) as e:
            error = DeviceNotFoundError if _not_found(e) else ConnectError
            raise error(f"cannot open {self.description}: {_reason(e)}") from e

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            # the port is going away either way; a failure here has nothing left to report
            with contextlib.suppress(serial.SerialException, OSError):
                await writer.wait_closed()

    async def send(self, data: bytes) -> None:
        if self._writer is None:
            raise LinkLostError(f"{self.description} is closed")
        try:
            self._writer.write(data)
            async with asyncio.timeout(self._spec.write_timeout_s):
                await self._writer.drain()
        except TimeoutError as e:
            limit = self._spec.write_timeout_s
            raise LinkLostError(f"{self.description}: write not drained within {limit} s") from e
        except (serial.SerialException, OSError) as e:
            raise LinkLostError(f"{self.description} failed: {e}") from e

    async def recv(self) -> bytes:
        if self._reader is None or self._closed:
            raise LinkLostError(f"{self.description} is closed")
        try:
            data = await self._reader.read(_READ_CHUNK)
        except (serial.SerialException, OSError) as e:
            raise LinkLostError(f"{self.description} failed: {e}") from e
        if not data:
            raise LinkLostError(f"{self.description} closed by the other end")
        return data
