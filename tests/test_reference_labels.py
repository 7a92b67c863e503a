"""A foreign key is shown by the label of the row it refers to wherever a page shows it: the
edit form's picker (and the picker finds a label by any part of it), the delete page, and the
history of a change, on every backend."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

AUTHORS = ["Gabriel García Márquez", "Toni Morrison", "Jorge Luis Borges", "Ursula Le Guin"]


@pytest.fixture
async def tables(engine: AsyncEngine) -> None:
    metadata = MetaData()
    authors = Table(
        "authors",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(100), nullable=False),
    )
    books = Table(
        "books",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("title", String(100), nullable=False),
        Column("author_id", ForeignKey("authors.id"), nullable=True),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(authors), [{"id": n, "name": name} for n, name in enumerate(AUTHORS, 1)]
        )
        await conn.execute(insert(books), [{"id": 1, "title": "Ficciones", "author_id": 1}])


@pytest.fixture
def picker_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any referenced table counts as too large for a select: the form gets the picker."""
    monkeypatch.setattr("webapp.changes.forms.FK_SELECT_LIMIT", 2)


async def test_the_picker_finds_a_label_by_any_part_and_shows_label_and_key(
    tables, picker_everywhere, make_client
) -> None:
    client = await make_client(role="editor")
    found = await (await client.get("/t/authors/lookup", params={"q": "cía már"})).json()
    assert found == [{"key": "1", "label": "1 — Gabriel García Márquez"}]
    found = await (await client.get("/t/authors/lookup", params={"q": "GUIN"})).json()
    assert found == [{"key": "4", "label": "4 — Ursula Le Guin"}]
    found = await (await client.get("/t/authors/lookup", params={"q": "or"})).json()
    assert [row["key"] for row in found] == ["2", "3"]  # in key order
    found = await (await client.get("/t/authors/lookup", params={"q": "_"})).json()
    assert found == []  # LIKE's wildcards are taken literally


async def test_the_edit_form_names_the_stored_reference(
    tables, picker_everywhere, make_client
) -> None:
    client = await make_client(role="editor")
    body = await (await client.get("/t/books/r/1/edit")).text()
    assert 'data-lookup="/t/authors/lookup"' in body
    assert '; saved: <span class="fk-label">Gabriel García Márquez</span>' in body


async def test_the_delete_page_names_the_referenced_row(tables, make_client) -> None:
    client = await make_client(role="editor")
    body = await (await client.get("/t/books/r/1/delete")).text()
    assert '<a href="/t/authors/r/1">Gabriel García Márquez</a> <span class="fk-key">1' in body


async def test_history_names_both_sides_of_a_changed_reference(
    tables, make_client, open_form
) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/books/r/1/edit")
    form.set("author_id", "3")
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    for path in ("/t/books/r/1", "/activity"):
        body = await (await client.get(path)).text()
        change = re.search(r'<span class="col">author_id</span>: (.*?)</li>', body, re.S)
        assert change is not None, body
        assert "Gabriel García Márquez</a>" in change.group(1)
        assert "Jorge Luis Borges</a>" in change.group(1)
        assert 'href="/t/authors/r/3"' in change.group(1)
    revert = re.search(r'href="(/activity/\d+/revert)"', body)
    assert revert is not None
    confirm = await (await client.get(revert.group(1))).text()
    assert "Jorge Luis Borges</a>" in confirm
