"""A session on the in-process simulator with the web remote in front of it, and a client for both."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from massager_ctl.orchestrator import Plan
from massager_ctl.web.access import Access, Bind
from massager_ctl.web.remote import SessionRemote
from massager_ctl.web.server import web_remote
from tests.orchestrator.orch_support import Rig, make_plan

MODEL = "pulse-gun-p5"


def two_step_plan() -> Plan:
    """A step that runs, then one that waits for the person."""
    return make_plan(
        [
            {"title": "Warm up", "duration": 600, "device": {"head": "ball", "intensity": 3}},
            {
                "title": "Shoulders",
                "duration": 600,
                "confirm": True,
                "prompt": {"text": "Lie on your back"},
                "device": {"head": "ball", "intensity": 4},
            },
        ],
        MODEL,
    )


@dataclass
class Served:
    rig: Rig
    access: Access
    client: httpx.AsyncClient
    run: asyncio.Task[Any]

    @property
    def base(self) -> str:
        return f"http://{self.access.bind.url_host}:{self.access.bind.port}"

    async def command(
        self, body: dict[str, Any] | bytes, *, token: str | None = None, **headers: str
    ) -> httpx.Response:
        """POST a command with the page's header (and the token, when given)."""
        sent = {"x-massager": "1", "content-type": "application/json", **headers}
        if token is not None:
            sent["x-pairing-token"] = token
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.client.post(f"{self.base}/api/cmd", content=content, headers=sent)


@contextlib.asynccontextmanager
async def served(plan: Plan, *, host: str = "127.0.0.1", token: str | None = None) -> AsyncIterator[Served]:
    """The session running on a simulator, its web remote on a free port of ``host``."""
    async with Rig(plan) as rig, web_remote(SessionRemote(rig.session), Bind(host, 0), token=token) as access:
        run = asyncio.create_task(rig.run())
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                yield Served(rig, access, client, run)
        finally:
            if not rig.session.state.finished:
                rig.session.stop("test over")
            await asyncio.wait({run}, timeout=10)
