"""Take the README's screenshots of a running webapp in headless Chromium.

Usage: python docs/screenshots.py [BASE_URL]   (default http://127.0.0.1:8080)
Signs in as WEBAPP_SCREENSHOT_USER with WEBAPP_SCREENSHOT_PASSWORD (environment) first.
Needs the `playwright` package and Debian's chromium at /usr/bin/chromium."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from playwright.async_api import async_playwright

OUT = Path(__file__).resolve().parent / "screenshots"
PAGES = {
    "index.png": "/",
    "table.png": "/t/orders?status__exact=shipped&sort=-total&facets=1",
    "record.png": "/t/authors/r/7",
    "statistics.png": "/t/orders/stats/placed_at",
    "schema.png": "/t/orders/schema",
}
# The same pages on a phone (390 x 844) and in the dark theme.
PHONE_PAGES = {
    "table-phone.png": PAGES["table.png"],
    "record-phone.png": "/t/orders/r/7",
}
DARK_PAGES = {"table-dark.png": "/t/books?facets=1"}
EDIT_PATH = "/t/books/r/7/edit"
HISTORY_PATH = "/t/books/r/3"
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
        await page.goto(base + "/login")
        await page.fill("input[name=username]", os.environ["WEBAPP_SCREENSHOT_USER"])
        await page.fill("input[name=password]", os.environ["WEBAPP_SCREENSHOT_PASSWORD"])
        await page.click("form.stacked button[type=submit]")
        for name, path in PAGES.items():
            response = await page.goto(base + path)
            assert response is not None and response.ok, (path, response and response.status)
            await page.screenshot(path=str(OUT / name))
            print(f"{OUT / name}")
        await page.set_viewport_size({"width": 390, "height": 844})
        await shoot(page, base, PHONE_PAGES)
        await page.set_viewport_size({"width": 1280, "height": 800})
        await page.emulate_media(color_scheme="dark")
        await shoot(page, base, DARK_PAGES)
        await page.emulate_media(color_scheme="light")
        await edit_error(page, base)
        await history(page, base)
        await browser.close()


async def shoot(page, base: str, pages: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for name, path in pages.items():
        response = await page.goto(base + path)
        assert response is not None and response.ok, (path, response and response.status)
        await page.screenshot(path=str(OUT / name))
        print(f"{OUT / name}")


async def save(page, *, expect: int) -> None:  # type: ignore[no-untyped-def]
    """Press the form's Save button; the POST must answer `expect`."""
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await page.get_by_role("button", name="Save").click()
    response = await posted.value
    assert response.status == expect, response.status
    await page.wait_for_load_state()


async def edit_error(page, base: str) -> None:  # type: ignore[no-untyped-def]
    """The edit form after saving bad input: errors beside their fields, input kept.
    Nothing is written, so the demo stays as it was."""
    await page.goto(base + EDIT_PATH)
    await page.get_by_label("price").fill("12.345")
    await page.get_by_label("published_on").fill("2024-02-30")
    await save(page, expect=400)
    await page.screenshot(path=str(OUT / "edit-error.png"))
    print(f"{OUT / 'edit-error.png'}")


async def history(page, base: str) -> None:  # type: ignore[no-untyped-def]
    """A record's history with its Revert buttons: makes one real edit (a new price) on
    HISTORY_PATH first, so run it against a demo database."""
    await page.goto(base + HISTORY_PATH + "/edit")
    await page.get_by_label("price").fill("24.90")
    await save(page, expect=303)
    await page.locator("section.record-history").scroll_into_view_if_needed()
    await page.screenshot(path=str(OUT / "history.png"))
    print(f"{OUT / 'history.png'}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"))
