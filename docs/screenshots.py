"""Take the README's screenshots of a running webapp in headless Chromium.

Usage: python docs/screenshots.py [BASE_URL]   (default http://127.0.0.1:8080)
Needs the `playwright` package and Debian's chromium at /usr/bin/chromium."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from playwright.async_api import async_playwright

OUT = Path(__file__).resolve().parent / "screenshots"
PAGES = {
    "index.png": "/",
    "table.png": "/t/orders?status__exact=shipped&sort=-total&facets=1",
    "record.png": "/t/authors/r/7",
}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


async def main(base: str) -> None:
    OUT.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        for name, path in PAGES.items():
            response = await page.goto(base + path)
            assert response is not None and response.ok, (path, response and response.status)
            await page.screenshot(path=str(OUT / name))
            print(f"{OUT / name}")
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"))
