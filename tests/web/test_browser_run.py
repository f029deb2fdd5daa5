"""``run --http``'s page in a real headless chromium at phone size: follow, pause, resume, confirm, stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.web.browser import keep_screenshot, phone_page
from tests.web.web_support import served, two_step_plan

pytestmark = pytest.mark.slow  # starts chromium


async def test_the_page_follows_and_drives_a_running_session(tmp_path: Path) -> None:
    async with served(two_step_plan()) as serve, phone_page(tmp_path / "profile") as page:
        await page.goto(serve.base + "/")
        await expect(page.locator("#step-title")).to_have_text("Warm up", timeout=10_000)
        await expect(page.locator("#link")).to_have_class("link live")
        await expect(page.locator("#device-mark")).to_have_text("reported", timeout=10_000)
        await keep_screenshot(page, "run-running", tmp_path)

        await page.locator("#btn-pause").click()
        await expect(page.locator("#state")).to_have_text("paused", timeout=1_000)
        await expect(page.locator("#btn-pause")).to_have_text("▶ Resume")
        assert serve.rig.session.state.value == "paused"
        await page.locator("#btn-pause").click()
        await expect(page.locator("#state")).to_have_text("running", timeout=1_000)

        await page.locator("#btn-skip").click()
        await expect(page.locator("#step-title")).to_have_text("Shoulders", timeout=1_000)
        await expect(page.locator("#prompt")).to_contain_text("Lie on your back")
        await expect(page.locator("#btn-confirm")).to_be_visible()
        await keep_screenshot(page, "run-waiting", tmp_path)
        await page.locator("#btn-confirm").click()
        await expect(page.locator("#state")).to_have_text("running", timeout=1_000)
        await expect(page.locator("#btn-confirm")).to_be_hidden()

        await page.locator("#btn-stop").click()
        result = await asyncio.wait_for(serve.run, 10)
        assert result.status == "stopped"
        firmware = serve.rig.firmware.state
        assert not firmware.motor
        assert firmware.heat == 0
        await expect(page.locator("#ended-title")).to_contain_text("stopped", timeout=2_000)
        await keep_screenshot(page, "run-stopped", tmp_path)


async def test_paired_by_url_the_page_sends_its_commands_with_the_token(tmp_path: Path) -> None:
    async with (
        served(two_step_plan(), host="127.0.0.2", token="paired-0123456789") as serve,
        phone_page(tmp_path / "profile") as page,
    ):
        unpaired = await page.goto(serve.base + "/")
        assert unpaired is not None
        assert unpaired.status == 401
        await page.goto(serve.access.url())
        await expect(page.locator("#step-title")).to_have_text("Warm up", timeout=10_000)
        await page.locator("#btn-pause").click()
        await expect(page.locator("#state")).to_have_text("paused", timeout=1_000)
        assert serve.rig.session.state.value == "paused"
