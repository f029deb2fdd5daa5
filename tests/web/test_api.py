"""The web remote's HTTP side: commands as over MQTT, bad input, the token, the host check and the stream."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest

from massager_ctl.errors import ConfigError
from massager_ctl.orchestrator.commands import MAX_PAYLOAD_BYTES
from massager_ctl.web.access import Bind, parse_bind
from tests.web.web_support import Served, served, two_step_plan


async def running(serve: Served) -> None:
    """Wait for the first step to start."""
    async with asyncio.timeout(10):
        while (event := await serve.rig.subscription.get()) is not None:
            serve.rig.events.append(event)
            if event.type == "step_started":
                assert serve.rig.session.state.value == "running"
                return


async def test_commands_get_the_mqtt_answers_and_move_the_session() -> None:
    async with served(two_step_plan()) as serve:
        await running(serve)
        reply = await serve.command({"action": "pause", "id": 7})
        assert reply.status_code == 200
        assert reply.json() == {"ok": True, "action": "pause", "id": 7, "message": "paused"}
        assert serve.rig.session.state.value == "paused"
        # Not in this state: the session's own refusal, as MQTT gives it, as a 409.
        again = await serve.command({"action": "pause", "client": "phone"})
        assert again.status_code == 409
        assert again.json()["ok"] is False
        assert again.json()["client"] == "phone"
        assert "pause" in again.json()["error"]
        assert (await serve.command({"action": "resume"})).json()["message"] == "resumed"
        stop = await serve.command({"action": "stop"})
        assert stop.json()["ok"] is True
        result = await asyncio.wait_for(serve.run, 10)
        assert result.status == "stopped"
        assert result.device_safe


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "command is not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'{"action": "dance"}', 400, "unknown action 'dance'"),
        (b'{"action": "extend", "seconds": "30"}', 400, "seconds:"),
        (b'{"action": "start", "routine": "../etc/passwd"}', 400, "not a file path"),
        (b'{"action": "intensity", "level": 3, "delta": 1}', 400, "exactly one of"),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), 413, "the limit is 4096"),
    ],
)
async def test_bad_input_gets_a_4xx_with_a_clear_message_and_changes_nothing(
    body: bytes, status: int, error: str
) -> None:
    async with served(two_step_plan()) as serve:
        await running(serve)
        reply = await serve.command(body)
        assert reply.status_code == status
        assert error in reply.json()["error"]
        assert serve.rig.session.state.value == "running"


async def test_a_command_without_the_page_header_is_refused() -> None:
    # A form on another site can POST here but cannot set a header.
    async with served(two_step_plan()) as serve:
        await running(serve)
        reply = await serve.client.post(
            f"{serve.base}/api/cmd", content=b'{"action":"pause"}', headers={"content-type": "text/plain"}
        )
        assert reply.status_code == 403
        assert serve.rig.session.state.value == "running"


async def test_a_foreign_host_name_gets_nothing_from_the_loopback_remote() -> None:
    async with served(two_step_plan()) as serve:
        await running(serve)
        reply = await serve.client.get(f"{serve.base}/api/state", headers={"host": "evil.example:80"})
        assert reply.status_code == 421
        ok = await serve.client.get(f"{serve.base}/api/state")
        assert ok.status_code == 200
        assert ok.json()["session"]["step_title"] == "Warm up"


async def test_off_127_0_0_1_every_request_needs_the_token_and_commands_take_it_only_in_a_header() -> None:
    async with served(two_step_plan(), host="127.0.0.2", token="sesame-0123456789") as serve:
        await running(serve)
        assert serve.access.required
        assert serve.access.url() == f"http://127.0.0.2:{serve.access.bind.port}/?token=sesame-0123456789"
        for path in ("/", "/api/state", "/api/events", "/manifest.webmanifest", "/static/app.js"):
            reply = await serve.client.get(serve.base + path)
            assert reply.status_code == 401, path
            assert "pairing token" in reply.json()["error"]
        assert (await serve.client.get(f"{serve.base}/?token=wrong")).status_code == 401
        for refused in (
            await serve.command({"action": "stop"}),
            await serve.command({"action": "stop"}, token="wrong"),
            # the token in the query string is for pages and streams, not commands
            await serve.client.post(
                f"{serve.base}/api/cmd?token=sesame-0123456789",
                content=b'{"action":"stop"}',
                headers={"x-massager": "1"},
            ),
        ):
            assert refused.status_code == 401
        assert serve.rig.session.state.value == "running"
        assert not serve.run.done()
        page = await serve.client.get(f"{serve.base}/?token=sesame-0123456789")
        assert page.status_code == 200
        assert "/static/app.js?token=sesame-0123456789" in page.text
        manifest = await serve.client.get(f"{serve.base}/manifest.webmanifest?token=sesame-0123456789")
        assert manifest.json()["start_url"] == "/?token=sesame-0123456789"
        reply = await serve.command({"action": "pause"}, token="sesame-0123456789")
        assert reply.status_code == 200
        assert serve.rig.session.state.value == "paused"


async def test_a_flood_of_commands_is_refused_busy_but_a_stop_always_goes_through() -> None:
    async with served(two_step_plan()) as serve:
        await running(serve)
        replies = [await serve.command({"action": "intensity", "delta": 1}) for _ in range(40)]
        busy = [r for r in replies if r.status_code == 429]
        assert busy, "the client's burst of 20 must run out"
        assert all(r.json()["busy"] is True and "busy" in r.json()["error"] for r in busy)
        stop = await serve.command({"action": "stop"})
        assert stop.status_code == 200
        assert (await asyncio.wait_for(serve.run, 10)).status == "stopped"


async def test_the_stream_carries_an_event_well_within_250_ms() -> None:
    async with served(two_step_plan()) as serve:
        await running(serve)
        loop = asyncio.get_running_loop()
        async with serve.client.stream("GET", f"{serve.base}/api/events") as stream:
            lines = stream.aiter_lines()
            first = json.loads((await anext(lines)).removeprefix("data: "))
            assert first["view"]["session"]["step_title"] == "Warm up"
            sent = loop.time()
            await serve.command({"action": "pause"})
            async with asyncio.timeout(5):
                async for line in lines:
                    if line.startswith("data: ") and json.loads(line[6:])["event"]["type"] == "paused":
                        break
            assert loop.time() - sent < 0.25 + 0.5  # the command's round trip included; bench/ measures


async def test_the_page_and_its_files_come_from_the_package_with_no_outside_reference() -> None:
    async with served(two_step_plan()) as serve:
        page = await serve.client.get(f"{serve.base}/")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        texts = [page.text]
        for name in ("app.js", "style.css", "icon.svg"):
            reply = await serve.client.get(f"{serve.base}/static/{name}")
            assert reply.status_code == 200
            texts.append(reply.text)
        icon = await serve.client.get(f"{serve.base}/static/icon-192.png")
        assert icon.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert (await serve.client.get(f"{serve.base}/static/..%2Fapp.py")).status_code == 404
        for text in texts:
            assert "https://" not in text
            assert "//cdn" not in text


def test_bind_addresses() -> None:
    assert parse_bind("8080") == Bind("127.0.0.1", 8080)
    assert parse_bind("0.0.0.0:80") == Bind("0.0.0.0", 80)
    assert parse_bind("[::1]:9000") == Bind("::1", 9000)
    assert parse_bind("[::1]:9000").local
    assert not parse_bind("127.0.0.2:1").local
    assert not parse_bind("0.0.0.0:1").local
    for bad in ("", "host:", "example.com:80", "1.2.3.4:99999", "80x"):
        with pytest.raises(ConfigError, match="expected \\[HOST:\\]PORT"):
            parse_bind(bad)




async def test_a_flood_of_requests_neither_stalls_the_session_nor_holds_up_a_stop() -> None:
    token = "flood-token-0123456789"
    async with served(two_step_plan(), host="127.0.0.2", token=token) as serve:
        await running(serve)
        base = serve.base
        underway = threading.Event()

        def flood() -> list[int]:
            # Another client, on its own thread: strangers without the token and a chatty page with it.
            statuses = []
            with httpx.Client(timeout=10) as client:
                for i in range(300):
                    if i % 2:
                        reply = client.post(
                            f"{base}/api/cmd", json={"action": "stop"}, headers={"x-massager": "1"}
                        )
                    else:
                        reply = client.post(
                            f"{base}/api/cmd",
                            json={"action": "intensity", "delta": 1 if i % 4 else -1},
                            headers={"x-pairing-token": token},
                        )
                    statuses.append(reply.status_code)
                    if i == 20:
                        underway.set()
            return statuses

        flooding = asyncio.create_task(asyncio.to_thread(flood))
        assert await asyncio.to_thread(underway.wait, 10)
        assert not flooding.done()
        loop = asyncio.get_running_loop()
        sent = loop.time()
        stop = await serve.command({"action": "stop"}, token=token)
        assert stop.status_code == 200
        assert loop.time() - sent < 1.0
        result = await asyncio.wait_for(serve.run, 10)
        assert (result.status, result.reason) == ("stopped", "stopped from the web remote")
        statuses = await flooding
        assert statuses.count(401) == 150  # no stop without the token got through
        assert 429 in statuses  # the chatty page ran out of its burst
