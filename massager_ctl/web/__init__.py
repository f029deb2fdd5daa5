"""The phone remote: a web page served by the process that runs the session (``run/serve --http``).

An ASGI app (Starlette) on uvicorn, in the session's own event loop. The page's
actions are the same validated commands as MQTT ``cmd`` and get the same answers;
live updates come as server-sent events. Everything the page needs ships in the
package (``static/``): it makes no request anywhere else. Bound to 127.0.0.1 by
default; bound to any other address, every request needs the pairing token the
terminal prints (see :mod:`massager_ctl.web.access`).

Needs the ``web`` extra: ``pip install 'massager-ctl[web]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from massager_ctl.errors import ConfigError

if TYPE_CHECKING:
    from massager_ctl.web.access import Bind

#: The install hint given when Starlette or uvicorn is missing.
INSTALL_HINT = "pip install 'massager-ctl[web]'"


def require_web() -> None:
    """Check the web extra is installed, before anything starts.

    Raises:
        ConfigError: Starlette or uvicorn is missing.
    """
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"--http needs the web extra; install it with: {INSTALL_HINT}") from e


def web_bind(http: str) -> Bind:
    """The ``--http [HOST:]PORT`` address, with the web extra checked, before anything starts.

    Raises:
        ConfigError: a bad address, or the web extra is not installed.
    """
    from massager_ctl.web.access import parse_bind

    require_web()
    return parse_bind(http)
