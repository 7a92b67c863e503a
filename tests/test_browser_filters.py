"""End to end in headless Chromium: the filter form, with and without its script."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import ids_where, install
from tests.helpers import CHROMIUM_ARGS, browser_cookies, page_ids

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_adding_a_filter_in_the_browser(
    engine: AsyncEngine, make_client, javascript: bool, chromium: Path
) -> None:
    await install(engine)
    client = await make_client(page_size=100)
    base = str(client.make_url("/t/items")).rstrip("/")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(java_script_enabled=javascript)
            await context.add_cookies(browser_cookies(client))
            page = await context.new_page()
            await page.goto(base)
            await page.select_option("#filter_column", "qty")
            if javascript:
                offered = await page.eval_on_selector_all(
                    "#filter_op option:not([disabled])", "options => options.map(o => o.value)"
                )
                number_ops = {"exact", "not", "in", "lt", "lte", "gt", "gte", "isnull", "notnull"}
                assert set(offered) == number_ops
            await page.select_option("#filter_op", "gte")
            await page.fill("#filter_value", "4")
            await page.click("form.add-filter button")
            await page.wait_for_load_state()
            assert page.url.endswith("/t/items?qty__gte=4")
            body = await page.content()
            assert page_ids(body) == ids_where(lambda r: r["qty"] is not None and r["qty"] >= 4)
        finally:
            await browser.close()
