"""A real headless Chromium (Debian's `chromium` package, /usr/bin/chromium) driven by
Playwright for Python; Playwright never downloads a browser here. A fresh profile per use."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import BrowserContext, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium(*, width: int = 1200, height: int = 900) -> AsyncIterator[BrowserContext]:
    """A browser context on a fresh profile (cookies, storage), closed afterwards."""
    if shutil.which(CHROMIUM) is None:
        raise AssertionError(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    profile = tempfile.mkdtemp(prefix="partnerbot-chromium-")
    try:
        async with async_playwright() as p:
            context = await p.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=ARGS,
                viewport={"width": width, "height": height},
            )
            try:
                yield context
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
