"""``massager-sim serve`` of real products as a process: the URL line, JSON state, a clean stop."""

from __future__ import annotations

import asyncio
import signal
from urllib.parse import urlsplit

import pytest
import serial

from tests.sim.test_sim_cli import SIM, serve

pytestmark = pytest.mark.slow

POWER = bytes.fromhex("f0 82 01 7c f1")


async def test_serve_chair_on_a_pty_and_follow_its_state() -> None:
    async with serve("rongtai-rt6923-chair", "--json-state") as served:
        parts = urlsplit(served.url)
        assert (parts.scheme, parts.query) == ("serial", "model=rongtai-rt6923-chair")
        idle = await served.state_where(lambda s: True)
        assert idle["running"] is False

        def press() -> bytes:
            with serial.Serial(parts.path, 115200, timeout=2) as port:
                port.write(POWER)
                return port.read(17)

        status = await asyncio.to_thread(press)
        assert status[0] == 0xF0
        assert status[1] & 0x40  # running
        async with asyncio.timeout(5):
            running = await served.state_where(lambda s: s["running"])
        assert running["timer_min"] == 20
        assert await served.stop(signal.SIGTERM) == 0


async def test_serve_keeson_base_over_ble_prints_its_url() -> None:
    async with serve("keeson-base-i4", "--faults", "bad_checksum_every=4") as served:
        assert served.url.startswith("ble://")
        assert "model=keeson-base-i4&hci=tcp-client:127.0.0.1:" in served.url
        assert await served.stop(signal.SIGINT) == 0


async def test_product_refuses_reference_only_options() -> None:
    process = await asyncio.create_subprocess_exec(
        *SIM,
        "serve",
        "theragun-pro-4",
        "--head",
        "ball",
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"real product" in err
