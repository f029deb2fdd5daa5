"""Serve the web remote on uvicorn in the running event loop, next to the session.

:func:`web_remote` binds before it yields (a port in use fails before anything
moves), prints the page's URL (and, where a token is needed, a QR code of it) and
shuts the server down when the block ends, ending any open live streams first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Generator

import uvicorn

from massager_ctl.errors import ConfigError
from massager_ctl.web.access import Access, Bind
from massager_ctl.web.app import WebRemote
from massager_ctl.web.remote import Remote

log = logging.getLogger(__name__)

#: Seconds open connections get to finish when the server stops.
SHUTDOWN_GRACE_S = 2


@contextlib.asynccontextmanager
async def web_remote(
    remote: Remote,
    bind: Bind,
    *,
    token: str | None = None,
    announce: Callable[[str], None] | None = None,
) -> AsyncIterator[Access]:
    """Serve the page for ``remote`` on ``bind`` while the block runs; yields the :class:`Access` in force.

    Args:
        remote: what the page drives.
        bind: where to listen (port 0: any free port; ``Access.bind`` then has the real one).
        token: the pairing token (default: a new random one).
        announce: where the URL and QR code go (default: the log).

    Raises:
        ConfigError: the address cannot be bound.
    """
    sock = _bind(bind)
    bound = Bind(host=bind.host, port=sock.getsockname()[1])
    access = Access(bound, token=token)
    web = WebRemote(remote, access)
    config = uvicorn.Config(
        web.app(),
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        # Bounded work: at most this many connections at once; more get 503 from uvicorn.
        limit_concurrency=64,
    )
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="web-remote")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise ConfigError(f"the web remote on {bound.url_host}:{bound.port} did not start")
            await asyncio.sleep(0.01)
        (announce or log.info)(pairing_text(access))
        yield access
    finally:
        web.close()
        server.should_exit = True
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await task
            raise
        finally:
            sock.close()
            await remote.close()


class _InLoopServer(uvicorn.Server):
    """uvicorn's server without its signal handlers: the command that runs the session owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(bind: Bind) -> socket.socket:
    family = socket.AF_INET6 if ":" in bind.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by each connection: a small event goes out at once, not after the last one's ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((bind.host, bind.port))
        sock.listen(64)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise ConfigError(f"--http: cannot listen on {bind.url_host}:{bind.port}: {e.strerror or e}") from e
    return sock


def pairing_text(access: Access) -> str:
    """What the terminal shows: the URL, and where a token is needed, a QR code of it in text blocks."""
    host = access.bind.host
    if host in ("0.0.0.0", "::"):
        # The phone needs a name it can reach: this computer's own name, without asking the network.
        url = Access(Bind(host=socket.gethostname(), port=access.bind.port), token=access.token).url()
    else:
        url = access.url()
    if not access.required:
        return f"web remote: {url}"
    lines = [f"web remote (pairing token in the URL; keep it private): {url}"]
    with contextlib.suppress(ImportError):
        lines.append(qr_text(url))
    return "\n".join(lines)


def qr_text(text: str) -> str:
    """``text`` as a QR code drawn with half-block characters, two modules a character cell high."""
    import segno

    qr = segno.make(text, error="m", boost_error=False)
    rows = [[bool(v) for v in row] for row in qr.matrix_iter(scale=1, border=2)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    out = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        # Light modules are drawn (dark terminals): a dark module is a blank.
        out.append(
            "".join(
                {(False, False): "█", (False, True): "▀", (True, False): "▄", (True, True): " "}[(t, b)]
                for t, b in zip(top, bottom, strict=True)
            )
        )
    return "\n".join(out)
