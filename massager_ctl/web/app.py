"""The web remote's ASGI app: the page, its live stream, its commands and the routine pictures.

Every handler does bounded work: a command is parsed from at most
:data:`~massager_ctl.mqtt.commands.MAX_PAYLOAD_BYTES` and rate-limited like an MQTT
command, streams are capped at :data:`MAX_STREAMS`, and pictures are drawn one at a
time in a worker thread and kept, so no flood of requests holds up the session.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from massager_ctl.errors import CommandError, MassagerError
from massager_ctl.events import Subscription
from massager_ctl.orchestrator.commands import MAX_PAYLOAD_BYTES, parse_command
from massager_ctl.orchestrator.gate import one_line
from massager_ctl.pictures import routine_timeline
from massager_ctl.web.access import COMMAND_HEADER, TOKEN_HEADER, TOKEN_QUERY, Access
from massager_ctl.web.remote import Remote, Reply

log = logging.getLogger(__name__)

#: Live streams open at once; a page holds one.
MAX_STREAMS = 8
#: Seconds between keep-alive comments on an idle stream (proxies and phones drop silent ones).
KEEPALIVE_S = 15.0
#: The files under static/ the app serves, and as what.
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}
_SECURITY_HEADERS = {
    # Nothing from anywhere else: the page ships everything it uses.
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _static(name: str) -> bytes:
    return resources.files("massager_ctl.web").joinpath("static", name).read_bytes()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


class _Guard:
    """ASGI middleware: the Host check and, where the bind needs it, the pairing token on every request.

    A loopback remote answers only to loopback Host names: a site that points its own name
    at 127.0.0.1 (DNS rebinding) gets nothing from it.
    """

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self._app = app
        self._access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _refusal(self, request: Request) -> Response | None:
        if self._access.bind.local:
            host = (request.headers.get("host") or "").rpartition(":")[0] or request.headers.get("host", "")
            if host.strip("[]") not in ("127.0.0.1", "localhost", "::1"):
                return _error(421, f"this remote answers only to 127.0.0.1, not to Host {host!r}")
        if not self._access.required:
            return None
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get(TOKEN_QUERY)
        if not self._access.matches(given):
            what = "a wrong pairing token" if given else "no pairing token"
            return _error(401, f"{what}: open the URL the terminal printed (or scan its QR code)")
        return None


class WebRemote:
    """The app's handlers around one :class:`Remote`.

    Args:
        remote: what the page drives.
        access: the bind and its pairing token.
    """

    def __init__(self, remote: Remote, access: Access) -> None:
        self.remote = remote
        self.access = access
        self._streams: set[Subscription] = set()
        self._pictures: dict[str, bytes] = {}
        self._drawing = asyncio.Lock()
        self.closing = False

    def app(self) -> ASGIApp:
        """The ASGI app."""
        routes = [
            Route("/", self.page),
            Route("/manifest.webmanifest", self.manifest),
            Route("/static/{name}", self.static),
            Route("/api/state", self.state),
            Route("/api/events", self.events),
            Route("/api/cmd", self.command, methods=["POST"]),
            Route("/api/routines", self.routines),
            Route("/api/routines/{routine_id}/timeline.svg", self.timeline),
        ]
        return _Guard(Starlette(routes=routes), self.access)

    def close(self) -> None:
        """End every live stream (the server is shutting down)."""
        self.closing = True
        for stream in list(self._streams):
            stream.close()

    def _query(self) -> str:
        return f"?{TOKEN_QUERY}={self.access.token}" if self.access.required else ""

    # ------------------------------------------------------------------ the page

    async def page(self, request: Request) -> Response:
        html = _static("index.html").decode().replace("__Q__", self._query())
        return Response(html, media_type="text/html; charset=utf-8", headers=_SECURITY_HEADERS)

    async def manifest(self, request: Request) -> Response:
        query = self._query()
        body = {
            "name": "massager-ctl remote",
            "short_name": "Massager",
            "start_url": f"/{query}",
            "scope": "/",
            "display": "standalone",
            "orientation": "portrait",
            "background_color": "#10141a",
            "theme_color": "#10141a",
            "icons": [
                {"src": f"/static/icon.svg{query}", "sizes": "any", "type": "image/svg+xml"},
                {"src": f"/static/icon-192.png{query}", "sizes": "192x192", "type": "image/png"},
                {"src": f"/static/icon-512.png{query}", "sizes": "512x512", "type": "image/png"},
            ],
        }
        return Response(json.dumps(body), media_type="application/manifest+json", headers=_SECURITY_HEADERS)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            return _error(404, f"no file {name!r}")
        return Response(_static(name), media_type=media_type, headers=_SECURITY_HEADERS)

    # ------------------------------------------------------------------ state and the live stream

    async def state(self, request: Request) -> Response:
        return JSONResponse(self.remote.view(), headers=_SECURITY_HEADERS)

    async def events(self, request: Request) -> Response:
        if self.closing:
            return _error(503, "the remote is shutting down")
        if len(self._streams) >= MAX_STREAMS:
            return _error(503, f"{MAX_STREAMS} pages are following already; close one")
        try:
            subscription = self.remote.subscribe()
        except MassagerError as e:
            return _error(410, one_line(e))
        self._streams.add(subscription)
        headers = dict(_SECURITY_HEADERS, **{"x-accel-buffering": "no"})
        return StreamingResponse(self._stream(subscription), media_type="text/event-stream", headers=headers)

    async def _stream(self, subscription: Subscription) -> AsyncIterator[str]:
        try:
            yield _sse({"event": None, "view": self.remote.view()})
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        event = await subscription.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if event is None:
                    yield _sse({"event": {"type": "end"}, "view": self.remote.view()})
                    return
                yield _sse({"event": event.model_dump(mode="json"), "view": self.remote.view()})
        finally:
            subscription.close()
            self._streams.discard(subscription)

    # ------------------------------------------------------------------ commands

    async def command(self, request: Request) -> Response:
        if self.access.required and not self.access.matches(request.headers.get(TOKEN_HEADER)):
            # Only a header: no other site can make a browser send one.
            return _error(401, f"a command needs the pairing token in the {TOKEN_HEADER} header")
        if TOKEN_HEADER not in request.headers and COMMAND_HEADER not in request.headers:
            # A form or image on another site cannot set a header: it cannot get this far.
            return _error(403, f"a command needs the {COMMAND_HEADER} (or {TOKEN_HEADER}) header")
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return _error(411, "a command needs a Content-Length")
        if int(length) > MAX_PAYLOAD_BYTES:
            return _error(413, f"command is {length} bytes; the limit is {MAX_PAYLOAD_BYTES}")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_PAYLOAD_BYTES:
                return _error(413, f"command is over {MAX_PAYLOAD_BYTES} bytes")
        try:
            parsed = parse_command(body)
        except CommandError as e:
            reply = await self.remote.command(e)
        else:
            reply = await self.remote.command(parsed)
        return JSONResponse(reply.answer.to_json(), status_code=_status(reply), headers=_SECURITY_HEADERS)

    # ------------------------------------------------------------------ routines

    async def routines(self, request: Request) -> Response:
        try:
            cards = await self.remote.routines()
        except MassagerError as e:
            return _error(503, one_line(e))
        body = [
            {
                "id": c.id,
                "title": c.title,
                "summary": c.summary,
                "duration_s": c.duration_s,
                "tools": list(c.tools),
                "confirms": c.confirms,
            }
            for c in cards
        ]
        return JSONResponse(body, headers=_SECURITY_HEADERS)

    async def timeline(self, request: Request) -> Response:
        routine_id = request.path_params["routine_id"]
        svg = self._pictures.get(routine_id)
        if svg is None:
            try:
                plan = await self.remote.plan(routine_id)
            except MassagerError as e:
                return _error(404, one_line(e))
            # One drawing at a time, in a thread: a burst of picture requests queues here, not in the loop.
            async with self._drawing:
                svg = self._pictures.get(routine_id)
                if svg is None:
                    try:
                        svg = await asyncio.to_thread(routine_timeline, plan, fmt="svg")
                    except MassagerError as e:  # no matplotlib
                        return _error(404, one_line(e))
                    self._pictures[routine_id] = svg
        headers = dict(_SECURITY_HEADERS, **{"cache-control": "private, max-age=3600"})
        return Response(svg, media_type="image/svg+xml", headers=headers)


def _status(reply: Reply) -> int:
    if reply.answer.ok:
        return 200
    if reply.answer.busy:
        return 429
    if reply.malformed:
        return 400
    return 409  # understood, but it does not apply now


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


