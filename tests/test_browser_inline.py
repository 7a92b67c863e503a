"""End to end in headless Chromium: editing a value in place on the table page
(static/inline.js). Double-click, type, Enter saves; Escape cancels; Tab saves and moves on
to the next editable cell; Enter on a focused cell opens it; a lost update is shown in the
cell with the value held now, and saved over on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import CHROMIUM_ARGS, browser_cookies
from tests.test_inline_edit import CUSTOMERS, METADATA, TICKETS, audit_entries, ticket

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser]

# Editable cells are numbered in reading order: five per row (title, qty, done,
# customer_id, code), the key column not among them.
TITLE_1, QTY_1, TITLE_2 = '[data-cell="0"]', '[data-cell="1"]', '[data-cell="5"]'


@pytest.fixture
async def tickets(engine: AsyncEngine) -> None:
    from sqlalchemy import insert

    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
        await conn.execute(insert(CUSTOMERS), [{"id": 1, "name": "Ada"}])
        await conn.execute(
            insert(TICKETS),
            [
                {"id": i, "title": f"Ticket {i}", "qty": i, "done": False, "customer_id": 1}
                for i in range(1, 4)
            ],
        )


async def test_editing_cells_in_place_with_the_mouse_and_the_keyboard(
    tickets, engine: AsyncEngine, make_client, chromium: Path
) -> None:
    client = await make_client(role="editor")
    base = str(client.make_url("/t/tickets")).rstrip("/")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context()
            await context.add_cookies(browser_cookies(client))
            page = await context.new_page()
            await page.goto(base)
            status = page.locator("table.rows").locator("xpath=..").get_by_role("status")

            # Double-click, type, Enter: saved, and the cell shows the new value.
            await page.dblclick(f"td{TITLE_1}")
            editor = page.locator(f"td{TITLE_1}.editing input[name=value]")
            await editor.wait_for()
            assert await editor.evaluate("node => node === document.activeElement")
            await editor.fill("Edited in place")
            await editor.press("Enter")
            await page.wait_for_selector(f"td{TITLE_1}:not(.editing)")
            assert await page.inner_text(f"td{TITLE_1}") == "Edited in place"
            await page.wait_for_function(
                "() => document.querySelector('[role=status]').textContent === 'Saved title.'"
            )
            assert (await ticket(engine))["title"] == "Edited in place"
            assert len(await audit_entries(engine)) == 1

            # Escape cancels: the cell is as it was, nothing is written.
            await page.dblclick(f"td{TITLE_1}")
            await editor.wait_for()
            await editor.fill("Never saved")
            await editor.press("Escape")
            await page.wait_for_selector(f"td{TITLE_1}:not(.editing)")
            assert await page.inner_text(f"td{TITLE_1}") == "Edited in place"
            assert await page.evaluate(
                f"() => document.activeElement === document.querySelector('td{TITLE_1}')"
            )

            # Tab saves and opens the next editable cell, focused.
            await page.dblclick(f"td{TITLE_1}")
            await editor.wait_for()
            await editor.fill("Tabbed")
            await editor.press("Tab")
            next_editor = page.locator(f"td{QTY_1}.editing input[name=value]")
            await next_editor.wait_for()
            assert await next_editor.evaluate("node => node === document.activeElement")
            assert await next_editor.input_value() == "1"
            assert (await ticket(engine))["title"] == "Tabbed"
            await next_editor.fill("nine")  # not a number: the form's message beside it
            await next_editor.press("Enter")
            error = page.locator(f"td{QTY_1} .field-error")
            await error.wait_for()
            assert "whole number" in await error.inner_text()
            assert await next_editor.get_attribute("aria-invalid") == "true"
            await next_editor.fill("9")
            await next_editor.press("Enter")
            await page.wait_for_selector(f"td{QTY_1}:not(.editing)")
            assert await page.inner_text(f"td{QTY_1}") == "9"
            assert (await ticket(engine))["qty"] == 9

            # The keyboard alone: focus a cell, Enter opens it.
            await page.focus(f"td{TITLE_2}")
            await page.keyboard.press("Enter")
            second = page.locator(f"td{TITLE_2}.editing input[name=value]")
            await second.wait_for()
            await second.fill("Keyboard")
            await second.press("Enter")
            await page.wait_for_selector(f"td{TITLE_2}:not(.editing)")
            assert (await ticket(engine, 2))["title"] == "Keyboard"

            # Someone else saves first: the cell says so, with the value held now.
            await page.dblclick(f"td{TITLE_1}")
            await editor.wait_for()
            async with engine.begin() as conn:
                await conn.execute(update(TICKETS).where(TICKETS.c.id == 1).values(title="Theirs"))
            await editor.fill("Mine")
            await editor.press("Enter")
            conflict = page.locator(f"td{TITLE_1} .field-error")
            await conflict.wait_for()
            said = await conflict.inner_text()
            assert "Someone changed this row" in said and "Now: Theirs" in said
            assert (await ticket(engine))["title"] == "Theirs"
            await page.get_by_role("button", name="Save mine").click()
            await page.wait_for_selector(f"td{TITLE_1}:not(.editing)")
            assert await page.inner_text(f"td{TITLE_1}") == "Mine"
            assert (await ticket(engine))["title"] == "Mine"
            assert await status.count() == 1
        finally:
            await browser.close()


async def test_the_edit_cells_view_links_open_the_editor_in_place(
    tickets, engine: AsyncEngine, make_client, chromium: Path
) -> None:
    client = await make_client(role="editor")
    base = str(client.make_url("/t/tickets")).rstrip("/")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            for javascript in (True, False):
                context = await browser.new_context(java_script_enabled=javascript)
                await context.add_cookies(browser_cookies(client))
                page = await context.new_page()
                await page.goto(base + "?edit=1")
                await page.get_by_role("link", name="Edit qty").first.click()
                if javascript:  # the link opens the editor here, the page stays
                    await page.locator("td.editing input[name=value]").wait_for()
                    assert page.url.endswith("/t/tickets?edit=1")
                else:  # the record form, on the qty field
                    await page.wait_for_url("**/t/tickets/r/1/edit?focus=qty")
                    assert await page.evaluate("() => document.activeElement.id") == "c2"
                await context.close()
        finally:
            await browser.close()
