"""Debian's chromium, headless, driven by Playwright (its own browser download is never used)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, ViewportSize, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
#: Screenshots are kept here for a person to look at (git-ignored).
ARTIFACTS = Path(__file__).parent / "artifacts"


def _installed() -> bool:
    return CHROMIUM.exists()


@contextlib.asynccontextmanager
async def phone_page(profile_dir: Path) -> AsyncIterator[Page]:
    """A fresh 390×844 page in headless chromium, with its own profile directory."""
    if not _installed():
        pytest.skip("chromium is not installed (scripts/test installs it)")
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            yield page
        finally:
            await context.close()


async def keep_screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    """Save a phone-size screenshot under pytest's tmp path and a copy under :data:`ARTIFACTS`."""
    shot = tmp_path / f"{name}.png"
    await page.screenshot(path=str(shot))
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / shot.name)
    return shot
