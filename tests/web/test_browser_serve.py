"""``serve --http``'s page in headless chromium at phone size: pick a routine, start it on a simulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from firmware_sim.opener import ServedSim
from massager_ctl.config import Caps
from massager_ctl.events import StepStarted
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.service import DeviceService
from massager_ctl.retry import Backoff
from massager_ctl.web.access import Access, Bind
from massager_ctl.web.remote import ServiceRemote
from massager_ctl.web.server import web_remote
from tests.orchestrator.orch_support import CATALOG
from tests.web.browser import keep_screenshot, phone_page

pytestmark = pytest.mark.slow  # starts chromium

ROUTINE = "lower-back-massage-gun"
#: The simulator and the session run this many times faster than real time: the test stays short.
SPEED = 10.0


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[tuple[DeviceService, DeviceConnector, Access]]:
    connector = DeviceConnector("sim://pulse-gun-p5?link=virtual", catalog=CATALOG, speed=SPEED)
    profile = CATALOG.device("pulse-gun-p5")
    service = DeviceService(
        connect=connector.connect,
        device_url="sim://pulse-gun-p5",
        profile=profile,
        catalog=CATALOG,
        caps=Caps(),
        speed=connector.speed,
        backoff=Backoff(initial_s=0.05, max_s=0.2),
    )
    stop = asyncio.Event()
    page = ServiceRemote(service, catalog=CATALOG, caps=Caps())
    async with connector, web_remote(page, Bind("127.0.0.1", 0)) as access:
        run = asyncio.create_task(service.run(stop))
        try:
            yield service, connector, access
        finally:
            stop.set()
            await asyncio.wait({run}, timeout=30)
            assert run.done()


async def test_pick_start_follow_pause_resume_confirm_and_stop(tmp_path: Path) -> None:
    async with serving() as (service, connector, access), phone_page(tmp_path / "profile") as page:
        assert isinstance(connector.source, ServedSim)
        firmware = connector.source.simulator.firmware
        await page.goto(f"http://127.0.0.1:{access.bind.port}/")
        item = page.locator(f'li.routine-item[data-id="{ROUTINE}"]')
        await expect(item).to_be_visible(timeout=10_000)
        # Only what passes pre-flight on this gun: a cushion's routine is not offered.
        await expect(page.locator('li.routine-item[data-id="shiatsu-full-back"]')).to_have_count(0)
        await expect(item.locator(".meta")).to_contain_text("electric-massager")
        await item.get_by_role("button", name="Timeline").click()
        await expect(item.locator("img")).to_be_visible(timeout=20_000)
        await keep_screenshot(page, "serve-routines", tmp_path)

        await item.get_by_role("button", name="Start").click()
        await expect(page.locator("#step-title")).to_have_text("Fit the flat head", timeout=1_000)
        await expect(page.locator("#btn-confirm")).to_be_visible()
        await keep_screenshot(page, "serve-waiting", tmp_path)
        events = service.bus.subscribe(maxsize=1024, name="test")
        await page.locator("#btn-confirm").click()
        await expect(page.locator("#state")).to_have_text("running", timeout=5_000)

        # The step changes on its own (20 s at 10x): the page shows it within a second of the event.
        session = service.session
        assert session is not None
        async with asyncio.timeout(10):
            while (event := await events.get()) is not None:
                if isinstance(event, StepStarted) and event.index == 1:
                    break
        await expect(page.locator("#step-title")).to_have_text("Flat head, left lower back", timeout=1_000)
        events.close()
        await keep_screenshot(page, "serve-step-2", tmp_path)
        if await page.locator("#btn-confirm").is_visible():  # the simulator asks for the flat head too
            await page.locator("#btn-confirm").click()
        await expect(page.locator("#state")).to_have_text("running", timeout=5_000)
        await page.locator("#btn-pause").click()
        await expect(page.locator("#state")).to_have_text("paused", timeout=1_000)
        assert session.state.value == "paused"
        await page.locator("#btn-pause").click()
        await expect(page.locator("#state")).to_have_text("running", timeout=1_000)
        await expect(page.locator("#device-line")).to_contain_text("motor on", timeout=5_000)
        await keep_screenshot(page, "serve-running", tmp_path)

        await page.locator("#btn-stop").click()
        await expect(page.locator("#ended-title")).to_contain_text("stopped", timeout=5_000)
        assert session.result is not None
        assert session.result.status == "stopped"
        assert session.result.device_safe
        assert not firmware.state.motor
        # Back to the list, ready for the next one.
        await expect(page.locator(f'li.routine-item[data-id="{ROUTINE}"]')).to_be_visible()
        await keep_screenshot(page, "serve-stopped", tmp_path)
