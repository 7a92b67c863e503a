"""Every kind of page in headless Chromium: axe-core finds no serious or critical
accessibility violation in the light and the dark theme, and no page scrolls sideways at a
phone's width (390 px) or a desktop's (1280 px); wide tables scroll inside their own box.

One browser and one server for the module, on the small demo in SQLite: the pages' markup
does not depend on the backend, and the other modules test their content on all three."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import CHROMIUM_ARGS, browser_cookies, install_small_demo

playwright_api = pytest.importorskip("playwright.async_api")
axe_api = pytest.importorskip("axe_playwright_python.async_playwright")

pytestmark = [pytest.mark.browser]

PHONE, DESKTOP = 390, 1280
# axe-core's impacts that fail the test; "minor" and "moderate" are reported, not failed.
FAILING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="module")
def backend() -> str:
    """SQLite only: the markup is the same on every backend."""
    return "sqlite"


@dataclass
class Site:
    """The running app, a browser signed in as an admin, and the paths that only exist once
    the setup made some changes (audit entries, a change set)."""

    base: str
    signed_in: Any  # a Playwright BrowserContext
    anonymous: Any
    paths: dict[str, str]


@pytest_asyncio.fixture(scope="module")
async def site(module_engine: AsyncEngine, module_client, chromium: Path) -> AsyncIterator[Site]:
    await install_small_demo(module_engine)
    client = await module_client(page_size=20)
    base = str(client.make_url("/")).rstrip("/")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            signed_in = await browser.new_context(viewport={"width": DESKTOP, "height": 800})
            await signed_in.add_cookies(browser_cookies(client))
            anonymous = await browser.new_context(viewport={"width": DESKTOP, "height": 800})
            page = await signed_in.new_page()
            paths = await make_changes(page, base)
            await page.close()
            yield Site(base, signed_in, anonymous, paths)
        finally:
            await browser.close()


async def make_changes(page: Any, base: str) -> dict[str, str]:
    """Edit a record and set a column on several rows, through the pages, so that history,
    activity, change sets and the revert pages have something to show."""
    await page.goto(f"{base}/t/authors/r/2/edit")
    await page.get_by_label(re.compile(r"^name")).fill("Renamed in the browser")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_url(re.compile(r"/t/authors/r/2$"))
    await page.goto(f"{base}/t/orders?status=open")
    await page.select_option("select[name=scope]", "all")
    await page.select_option("#bulk-action", "set")
    await page.select_option("select[name=column]", "notes")
    await page.fill("input[name=value]", "checked by the browser test")
    await page.get_by_role("button", name="Review…").click()
    await page.wait_for_url(re.compile(r"/t/orders/bulk"))
    await page.locator("form.actions button.danger").click()
    await page.wait_for_load_state()
    await page.goto(f"{base}/activity")
    revert = await page.locator("a[href$='/revert']").first.get_attribute("href")
    set_href = await page.locator("a[href*='/activity/sets/']").first.get_attribute("href")
    assert revert and set_href, await page.content()
    return {"revert": revert, "change_set": set_href, "revert_set": f"{set_href}/revert"}


# (id, path or a key of Site.paths, signed in, the status the page answers with)
PAGES = [
    ("index", "/", True, 200),
    ("table", "/t/orders", True, 200),
    ("table-wide", "/t/customers", True, 200),
    ("table-search", "/t/authors?q=an", True, 200),
    ("table-filters", "/t/books?in_print=1&genre__not=poetry", True, 200),
    ("table-empty", "/t/authors?q=nothing+matches+this", True, 200),
    ("table-bad-filter", "/t/orders?total__gt=lots", True, 400),
    ("view", "/t/book_sales", True, 200),
    ("record", "/t/orders/r/1", True, 200),
    ("record-history", "/t/authors/r/2", True, 200),
    ("edit", "/t/orders/r/1/edit", True, 200),
    ("create", "/t/books/new", True, 200),
    ("delete-confirm", "/t/authors/r/1/delete", True, 200),
    ("activity", "/activity", True, 200),
    ("change-sets", "/activity/sets", True, 200),
    ("change-set", "change_set", True, 200),
    ("revert", "revert", True, 200),
    ("revert-set", "revert_set", True, 200),
    ("users", "/admin/users", True, 200),
    ("tokens", "/account/tokens", True, 200),
    ("password", "/account/password", True, 200),
    ("sql", "/sql", True, 200),
    ("statistics-number", "/t/orders/stats/total", True, 200),
    ("statistics-date", "/t/orders/stats/placed_at", True, 200),
    ("statistics-text", "/t/orders/stats/status", True, 200),
    ("schema-table", "/t/orders/schema", True, 200),
    ("schema-all", "/schema", True, 200),
    ("import", "/t/authors/import", True, 200),
    ("edit-cells", "/t/authors?edit=1", True, 200),
    ("login", "/login", False, 200),
    ("error", "/t/no_such_table", True, 404),
]


@pytest.mark.parametrize(
    ("path", "signed_in", "status"), [p[1:] for p in PAGES], ids=[p[0] for p in PAGES]
)
async def test_page_is_accessible_and_fits_phone_and_desktop(
    site: Site, path: str, signed_in: bool, status: int
) -> None:
    path = site.paths.get(path, path)
    context = site.signed_in if signed_in else site.anonymous
    page = await context.new_page()
    try:
        await page.emulate_media(color_scheme="light")
        response = await page.goto(site.base + path)
        assert response is not None and response.status == status, path
        failures = []
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            failures += [f"{scheme}: {v}" for v in await serious_violations(page)]
        assert not failures, "\n".join(failures)
        for width in (DESKTOP, PHONE):
            await page.set_viewport_size({"width": width, "height": 800})
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                wide = await page.evaluate(WIDEST_ELEMENTS)
                pytest.fail(f"{path} is {overflow} px wider than a {width} px window: {wide}")
    finally:
        await page.close()


async def test_the_theme_toggle_is_remembered_without_a_flash(site: Site) -> None:
    """The toggle overrides the browser's preference, and the next page is drawn in the
    chosen theme from the start (data-theme is set before the body is parsed)."""
    page = await site.signed_in.new_page()
    try:
        await page.emulate_media(color_scheme="light")
        await page.goto(site.base + "/")
        toggle = page.locator(".who .theme-toggle")
        assert await toggle.inner_text() == "Dark theme"
        await toggle.click()
        assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert await page.evaluate(BACKGROUND) == "rgb(23, 27, 34)"
        # The body's first paint: the stored theme is already on <html> when <body> starts.
        await page.add_init_script(
            "document.addEventListener('readystatechange', () => {"
            " if (!window.firstTheme) window.firstTheme ="
            " document.documentElement.dataset.theme || 'none'; });"
        )
        await page.goto(site.base + "/t/orders")
        assert await page.evaluate("window.firstTheme") == "dark"
        assert await page.evaluate(BACKGROUND) == "rgb(23, 27, 34)"
        assert await page.locator(".who .theme-toggle").inner_text() == "Light theme"
        await page.locator(".who .theme-toggle").click()
        await page.reload()
        assert await page.evaluate(BACKGROUND) == "rgb(255, 255, 255)"
    finally:
        await page.evaluate("localStorage.clear()")
        await page.close()


async def test_the_phone_menu_folds_the_account_links(site: Site) -> None:
    """A <details> element: it opens with no script at all."""
    page = await site.signed_in.new_page()
    try:
        await page.set_viewport_size({"width": PHONE, "height": 800})
        await page.goto(site.base + "/t/orders")
        activity = page.get_by_role("link", name="Activity", exact=True)
        assert not await activity.is_visible()
        await page.locator(".menu summary").click()
        assert await activity.is_visible()
        await page.set_viewport_size({"width": DESKTOP, "height": 800})
        assert not await page.locator(".menu").is_visible()
        assert await activity.is_visible()
    finally:
        await page.close()


BACKGROUND = "getComputedStyle(document.documentElement).backgroundColor"


async def test_the_skip_link_leads_to_the_rows(site: Site) -> None:
    page = await site.signed_in.new_page()
    try:
        await page.goto(site.base + "/t/orders")
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Skip to the rows"
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")
        inside = "document.activeElement.closest('#rows') !== null"
        assert await page.evaluate(inside)
    finally:
        await page.close()


async def test_the_grid_keeps_rows_short_and_its_header_in_view(site: Site) -> None:
    """JSON and long text take one line in the grid; headings read as titles with the raw
    name in their tooltip; scrolling the rows keeps the header row where it was."""
    page = await site.signed_in.new_page()
    try:
        await page.goto(site.base + "/t/orders")
        heights = await page.eval_on_selector_all(
            "#rows tbody tr", "rows => rows.map(r => r.getBoundingClientRect().height)"
        )
        assert heights and max(heights) < 45, heights
        heading = page.locator("#rows thead th", has_text="Customer")
        sort_link = heading.locator("a:not(.stats-link)")  # beside it, the statistics link
        assert "customer_id" in (await sort_link.get_attribute("title") or "")
        box = page.locator(".rows-scroll")
        before = await heading.bounding_box()
        await box.evaluate("box => { box.scrollTop = 400; }")
        assert await box.evaluate("box => box.scrollTop") > 0
        after = await heading.bounding_box()
        assert before and after and abs(after["y"] - before["y"]) < 1
    finally:
        await page.close()


async def test_phones_fold_the_filters_and_facets(site: Site) -> None:
    page = await site.signed_in.new_page()
    try:
        await page.set_viewport_size({"width": PHONE, "height": 800})
        await page.goto(site.base + "/t/books")
        facets, form = page.locator("aside.facets"), page.locator("form.add-filter")
        assert not await facets.is_visible() and not await form.is_visible()
        await page.get_by_text("Filters and facets").click()
        assert await facets.is_visible() and await form.is_visible()
        assert await page.locator("aside.facets h2", has_text="Author").count() == 1
        await page.goto(site.base + "/t/orders?total__gt=lots")  # an error is never folded
        assert await page.locator("#filter-error").is_visible()
        await page.set_viewport_size({"width": DESKTOP, "height": 800})
        await page.goto(site.base + "/t/books")
        assert await facets.is_visible()
        assert not await page.get_by_text("Filters and facets").is_visible()
    finally:
        await page.close()


async def test_the_sql_console_result_is_accessible(site: Site) -> None:
    page = await site.signed_in.new_page()
    try:
        await page.goto(site.base + "/sql")
        await page.fill("textarea[name=sql]", "SELECT id, email, full_name FROM customers")
        await page.get_by_role("button", name="Run", exact=True).click()
        await page.wait_for_load_state()
        assert "full_name" in await page.content()
        failures = []
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            failures += [f"{scheme}: {v}" for v in await serious_violations(page)]
        assert not failures, "\n".join(failures)
    finally:
        await page.close()


# The elements that reach past the window's right edge, innermost first: what to fix when a
# page scrolls sideways.
WIDEST_ELEMENTS = """() => {
  const limit = document.documentElement.clientWidth;
  return [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > limit + 0.5 && !e.closest(".scroll"))
    .reverse().slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : "")
              + " " + Math.round(e.getBoundingClientRect().right));
}"""


async def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each
    with the first elements it names."""
    results = await axe_api.Axe().run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation["impact"] in FAILING_IMPACTS:
            targets = [" ".join(map(str, n["target"])) for n in violation["nodes"][:3]]
            lines.append(
                f"{violation['id']} ({len(violation['nodes'])}): {violation['help']} {targets}"
            )
    return lines
