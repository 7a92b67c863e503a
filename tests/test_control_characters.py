"""Control characters HTML forbids never reach a page raw: they are shown as `\\x01`, marked
in cells, plain in form fields and messages."""

from __future__ import annotations

import re

from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import form_token
from webapp.web.html_text import FORBIDDEN as FORBIDDEN_CHARACTERS
from webapp.web.html_text import has_forbidden, visible_controls

FORBIDDEN = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


async def test_control_characters_are_shown_escaped_on_every_page(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    value = "bell\x07esc\x1bdel\x7fc1\x85" + ("" if backend == "postgresql" else "nul\x00")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(80))"))
        await conn.execute(text("INSERT INTO notes VALUES (1, :body)"), {"body": value})
    client = await make_client()
    marked = '<span class="ctl">\\x07</span>'
    for path in ("/t/notes", "/t/notes/r/1"):
        body = await (await client.get(path)).text()
        assert FORBIDDEN.search(body) is None, path
        assert marked in body and '<span class="ctl">\\x1b</span>' in body, path
        assert '<span class="ctl">\\x85</span>' in body
        if backend != "postgresql":
            assert '<span class="ctl">\\x00</span>' in body
    edit = await (await client.get("/t/notes/r/1/edit")).text()
    assert FORBIDDEN.search(edit) is None
    assert "bell\\x07esc\\x1bdel\\x7fc1\\x85" in edit
    search = await client.get("/t/notes", params={"q": "\x01\x02"})
    body = await search.text()
    assert search.status == 200 and FORBIDDEN.search(body) is None
    assert 'value="\\x01\\x02"' in body
    anonymous = await make_client(role=None)
    response = await anonymous.post(
        "/login",
        data={"csrf_token": await form_token(anonymous), "username": "a\x01", "password": "x"},
    )
    body = await response.text()
    assert response.status == 401 and FORBIDDEN.search(body) is None
    assert 'value="a\\x01"' in body


async def test_unchanged_save_keeps_control_characters_and_an_edit_replaces_them(
    engine: AsyncEngine, make_client, open_form, backend: str
) -> None:
    value = "tab\tbell\x07esc\x1b" + ("" if backend == "postgresql" else "nul\x00")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(80))"))
        await conn.execute(text("INSERT INTO notes VALUES (1, :body)"), {"body": value})
    client = await make_client()

    async def stored() -> str:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT body FROM notes"))).scalar_one()

    form = await open_form(client, "/t/notes/r/1/edit")
    assert form.value("body") == "tab\tbell\\x07esc\\x1b" + (
        "" if backend == "postgresql" else "nul\\x00"
    )
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    assert await stored() == value
    form = await open_form(client, "/t/notes/r/1/edit")
    form.set("body", "plain")
    assert (await form.submit(client)).status == 303
    assert await stored() == "plain"


def test_forbidden_check_agrees_with_the_character_classes() -> None:
    """has_forbidden (on UTF-8 bytes, for speed) says what FORBIDDEN's regex says, at every
    edge of the forbidden ranges."""
    edges = [0x00, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x1F, 0x20, 0x7E, 0x7F, 0x80]
    edges += [0x9F, 0xA0, 0xFF, 0x100, 0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFDCF, 0xFDD0, 0xFDEF]
    edges += [0xFDF0, 0xFFFD, 0xFFFE, 0xFFFF, 0x1F34B, 0x10FFFF]
    for code in edges:
        for sample in (chr(code), "a" + chr(code), "é" + chr(code) + "b"):
            expected = FORBIDDEN_CHARACTERS.search(sample) is not None
            assert has_forbidden(sample) == expected, code
    assert visible_controls("a\x00é\ud800") == "a\\x00é\\ud800"
    assert visible_controls(Markup("<b>\x07</b>")) == Markup(
        '<b><span class="ctl">\\x07</span></b>'
    )
    assert visible_controls(7) == 7
