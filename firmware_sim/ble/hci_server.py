"""A virtual Bluetooth controller on a TCP port, as if a USB dongle were plugged in over the network.

Each TCP client gets a fresh Bumble ``Controller`` on the simulator's radio link and speaks
H4-framed HCI to it (Bumble's ``tcp-client:HOST:PORT`` transport). One client at a time, as
a dongle has one host. When the client goes away its links are torn down the way a radio
sees it: the peers get a supervision timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from bumble import core, hci, ll
from bumble.link import LocalLink
from bumble.transport.common import PacketParser, StreamPacketSink

from firmware_sim.ble.controller import VirtualController

__all__ = ["HciTcpServer"]

logger = logging.getLogger(__name__)


class HciTcpServer:
    """Serves HCI over TCP for a ``LocalLink``; use ``async with`` or ``start``/``aclose``.

    Args:
        link: The radio link the controllers join.
        host: Interface to listen on (loopback by default).
        port: TCP port, 0 for any free one (see ``port`` after start).
    """

    def __init__(self, link: LocalLink, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._link = link
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._session: _HciSession | None = None
        self._names = itertools.count(1)

    @property
    def port(self) -> int:
        """The bound TCP port.

        Raises:
            RuntimeError: The server is not started.
        """
        if self._server is None:
            raise RuntimeError("HCI server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def transport_spec(self) -> str:
        """The Bumble transport spec a host uses to reach this controller."""
        return f"tcp-client:{self._host}:{self.port}"

    async def start(self) -> None:
        """Listen for a host.

        Raises:
            OSError: The port cannot be bound.
        """
        if self._server is None:
            self._server = await asyncio.get_running_loop().create_server(
                lambda: _HciSession(self), self._host, self._port
            )

    async def aclose(self) -> None:
        """Stop listening and drop the current host, if any (idempotent)."""
        if self._session is not None:
            self._session.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> HciTcpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _attach(self, session: _HciSession) -> VirtualController | None:
        if self._session is not None:
            return None
        self._session = session
        return VirtualController(f"hci-tcp-{next(self._names)}", link=self._link)

    def _detach(self, session: _HciSession, controller: VirtualController) -> None:
        if self._session is session:
            self._session = None
        controller.host = None
        # The host vanished without a word: to the peers the link just times out.
        reason = hci.HCI_CONNECTION_TIMEOUT_ERROR
        for connection in list(controller.le_connections.values()):
            connection.send_ll_control_pdu(ll.TerminateInd(reason))
            controller.on_le_disconnected(connection, reason)
        self._link.remove_controller(controller)


class _HciSession(asyncio.Protocol):
    """One TCP host attached to one controller."""

    def __init__(self, server: HciTcpServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._controller: VirtualController | None = None
        self._parser: PacketParser | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        controller = self._server._attach(self)
        if controller is None:
            logger.warning("HCI server: a host is already attached; refusing another")
            transport.close()
            return
        controller.host = StreamPacketSink(transport)
        self._controller = controller
        self._parser = PacketParser(controller)

    def data_received(self, data: bytes) -> None:
        if self._parser is None:
            return
        try:
            self._parser.feed_data(data)
        except core.InvalidPacketError:
            logger.warning("HCI server: not HCI, closing the connection")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._controller is not None:
            self._server._detach(self, self._controller)
            self._controller = None
            self._parser = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
