"""``massager-ctl serve --http`` as a process, with no broker: the pairing URL, the token, a clean exit."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

import httpx
import pytest

from tests.process_support import cli_env, start_ctl

pytestmark = pytest.mark.slow  # starts massager-ctl

ROUTINE = "lower-back-massage-gun"


async def test_serve_with_only_http_off_127_0_0_1_needs_the_pairing_token(tmp_path: Path) -> None:
    proc, lines = start_ctl(
        cli_env(tmp_path), "serve", "--device", "sim://pulse-gun-p5", "--http", "127.0.0.2:0"
    )
    try:
        line = await asyncio.to_thread(lines.wait_for, lambda text: "web remote" in text)
        match = re.search(r"(http://127\.0\.0\.2:\d+/)\?token=([A-Za-z0-9_-]+)", line)
        assert match is not None, line
        base, token = match.group(1), match.group(2)
        # The QR code of the URL follows, drawn in text blocks.
        qr = await asyncio.to_thread(lines.wait_for, lambda text: "▀" in text or "▄" in text)
        assert len(qr) > 20
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert (await client.get("/")).status_code == 401
            assert (await client.get("/", params={"token": token})).status_code == 200
            routines = (await client.get("/api/routines", params={"token": token})).json()
            assert ROUTINE in [r["id"] for r in routines]
            await connected(client, token)
            started = await client.post(
                "/api/cmd",
                json={"action": "start", "routine": ROUTINE, "id": "go"},
                headers={"x-pairing-token": token},
            )
            assert started.status_code == 200, started.text
            assert started.json()["message"].startswith(f"started {ROUTINE}")
            # Without the token: refused, and the session is untouched.
            for headers in ({"x-massager": "1"}, {"x-pairing-token": "guess"}):
                refused = await client.post("/api/cmd", json={"action": "stop"}, headers=headers)
                assert refused.status_code == 401
            state = (await client.get("/api/state", params={"token": token})).json()
            assert state["session"]["routine_id"] == ROUTINE
            assert state["session"]["status"] is None
            assert state["session"]["state"] in ("waiting_for_confirm", "running", "preparing")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
        assert lines.drain()[-1] == "stopped; the device is off"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def connected(client: httpx.AsyncClient, token: str) -> None:
    """Wait on the page's stream until the service reports the device connected."""
    async with (
        asyncio.timeout(20),
        client.stream("GET", "/api/events", params={"token": token}) as stream,
    ):
        async for line in stream.aiter_lines():
            if line.startswith("data: ") and (json.loads(line[6:])["view"]["device"] or {}).get("connected"):
                return


async def test_serve_needs_a_remote(tmp_path: Path) -> None:
    proc, lines = start_ctl(cli_env(tmp_path), "serve", "--device", "sim://pulse-gun-p5")
    assert await asyncio.to_thread(proc.wait, 20) == 2
    assert "serve needs a remote: --mqtt" in "\n".join(lines.drain())
