"""Who may use the web remote: the bind address decides whether a pairing token is needed.

Bound to a loopback name the remote is this computer's own (``127.0.0.1``, ``::1``,
``localhost``), and the token is optional. Bound to anything else, even another
loopback address such as ``127.0.0.2``, the socket may be reachable from elsewhere
(a tunnel, a port forward), so every request must carry the token: a command in the
``X-Pairing-Token`` header (never a cookie, so another site cannot make the
browser send it), a page, stream or picture in the ``token`` query parameter (a
page link or an ``EventSource`` cannot set headers).

Commands always need the ``X-Massager`` header as well (or the token header): a
cross-site form or image request cannot set one, so no other site can drive the
massager even through the loopback remote.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from massager_ctl.errors import ConfigError

#: Bind names that need no token: only this computer reaches them.
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
DEFAULT_HOST = "127.0.0.1"
TOKEN_HEADER = "x-pairing-token"
COMMAND_HEADER = "x-massager"
TOKEN_QUERY = "token"


@dataclass(frozen=True, slots=True)
class Bind:
    """Where the remote listens."""

    host: str
    port: int

    @property
    def url_host(self) -> str:
        """The host as it goes in a URL (an IPv6 address in brackets)."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def local(self) -> bool:
        """Bound to this computer's own loopback name: the token is optional."""
        return self.host in LOCAL_HOSTS


def parse_bind(text: str) -> Bind:
    """``[HOST:]PORT`` (``[::1]:8080`` for IPv6) to a :class:`Bind`; the host defaults to 127.0.0.1.

    Raises:
        ConfigError: not ``[HOST:]PORT``, or the port is out of range.
    """
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_HOST, text
    host = host.removeprefix("[").removesuffix("]") or DEFAULT_HOST
    hint = f"--http {text!r}: expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080"
    if not port_text.isdigit():
        raise ConfigError(hint)
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(f"{hint} (the port is 0-65535)")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(f"{hint}; HOST is an IP address or localhost") from None
    return Bind(host=host, port=port)


class Access:
    """The pairing token and the checks made with it.

    Args:
        bind: where the remote listens; a non-local bind makes the token required.
        token: the pairing token (default: a new random one).
    """

    def __init__(self, bind: Bind, *, token: str | None = None) -> None:
        self.bind = bind
        self.token = token or secrets.token_urlsafe(18)
        self.required = not bind.local

    def matches(self, given: str | None) -> bool:
        """Whether ``given`` is the token (compared in constant time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def url(self, *, port: int | None = None) -> str:
        """The page's URL, with the token in it where one is required."""
        base = f"http://{self.bind.url_host}:{port if port is not None else self.bind.port}/"
        return f"{base}?{TOKEN_QUERY}={self.token}" if self.required else base
