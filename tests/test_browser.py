"""End to end in a real browser (Debian's Chromium, headless, driven by Playwright): open a
record, edit it through the form, save, and see the new value. Runs on SQLite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import CHROMIUM_ARGS, TEST_PASSWORD, add_test_user


@pytest.mark.browser
async def test_edit_a_record_in_the_browser_and_see_the_new_value(
    engine: AsyncEngine, make_client, backend: str, chromium: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("the browser test runs on SQLite")
    from playwright.async_api import async_playwright

    metadata = MetaData()
    notes = Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("title", String(100), nullable=False),
        Column("body", Text),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(notes), [{"id": 1, "title": "Before", "body": None}])
    client = await make_client(role=None)
    await add_test_user(client.server.app, "editor", "eddie")
    base = str(client.make_url("/")).rstrip("/")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/t/notes/r/1")
            await page.wait_for_url(re.compile(r"/login\?next="))  # anonymous: sign in first
            await page.get_by_label("User name").fill("eddie")
            await page.get_by_label("Password").fill(TEST_PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(re.compile(r"/t/notes/r/1$"))
            await page.get_by_role("link", name="Edit").click()
            await page.wait_for_url(re.compile(r"/t/notes/r/1/edit$"))
            await page.get_by_label(re.compile(r"^title")).fill("After 😀")
            body = page.get_by_label(re.compile(r"^body"))
            null_box = page.locator("input[name='c2:null']")
            assert await null_box.is_checked()
            await body.fill("typed into a NULL field")
            assert not await null_box.is_checked()  # static/edit.js unticked it
            await page.get_by_role("button", name="Save").click()
            await page.wait_for_url(re.compile(r"/t/notes/r/1$"))
            content = await page.content()
            assert "Changes saved." in content
            assert "After 😀" in content and "typed into a NULL field" in content
        finally:
            await browser.close()
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT title, body FROM notes"))).one()
    assert tuple(row) == ("After 😀", "typed into a NULL field")
