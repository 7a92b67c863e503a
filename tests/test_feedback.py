"""What the pages say after an action and when a view finds nothing, on every backend:
confirmations, Undo links that revert the change, an empty state, a bad filter shown beside
the filter form, filter chips, and the delete page's warning of referencing rows."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import TEST_PASSWORD, form_token

FLASH = re.compile(r'<p class="flash" role="status">(.*?)</p>', re.S)
UNDO = re.compile(r'<a class="undo" href="([^"]+)">Undo</a>')


def schema() -> tuple[MetaData, Table, Table, Table, Table]:
    metadata = MetaData()
    parents = Table(
        "parents",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(50)),
        Column("active", Boolean, nullable=False),
    )
    children = Table(
        "children",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("parent_id", ForeignKey("parents.id", ondelete="RESTRICT")),
    )
    notes = Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("parent_id", ForeignKey("parents.id", ondelete="CASCADE")),
    )
    orphans = Table(
        "orphans",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("parent_id", ForeignKey("parents.id", ondelete="SET NULL"), nullable=True),
    )
    return metadata, parents, children, notes, orphans


@pytest.fixture
async def tables(engine: AsyncEngine) -> None:
    """Parent 1 has 3 children (which refuse its delete) and 2 notes and an orphan (which
    do not); parent 2 has only notes; parent 3 nothing."""
    metadata, parents, children, notes, orphans = schema()
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(parents),
            [{"id": n, "name": f"Parent {n}", "active": n % 2 == 1} for n in range(1, 6)],
        )
        await conn.execute(insert(children), [{"id": n, "parent_id": 1} for n in range(1, 4)])
        await conn.execute(
            insert(notes),
            [{"id": 1, "parent_id": 1}, {"id": 2, "parent_id": 1}, {"id": 3, "parent_id": 2}],
        )
        await conn.execute(insert(orphans), [{"id": 1, "parent_id": 1}])


async def parent(engine: AsyncEngine, key: int) -> dict | None:
    _, parents, *_ = schema()
    async with engine.connect() as conn:
        row = (await conn.execute(select(parents).where(parents.c.id == key))).mappings().first()
    return dict(row) if row is not None else None


def flash_of(body: str) -> str | None:
    match = FLASH.search(body)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else None


async def follow(client, response) -> str:
    assert response.status == 303, await response.text()
    return await (await client.get(response.headers["Location"])).text()


async def post(client, path: str, **data: str):
    token = await form_token(client, "/activity")
    return await client.post(path, data={"csrf_token": token, **data}, allow_redirects=False)


# --- saves, deletes and their Undo ------------------------------------------------------------


async def test_an_unchanged_save_says_there_was_nothing_to_save(
    tables, make_client, open_form
) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/parents/r/2/edit")
    body = await follow(client, await form.submit(client))
    assert flash_of(body) == "No changes to save."
    assert UNDO.search(body) is None


async def test_a_save_flash_offers_undo_which_reverts_it(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/parents/r/2/edit")
    form.set("name", "Renamed")
    body = await follow(client, await form.submit(client))
    assert flash_of(body) == "Changes saved. Undo"
    undo = UNDO.search(body)
    assert undo is not None and re.fullmatch(r"/activity/\d+/revert", undo.group(1))
    assert (await parent(engine, 2))["name"] == "Renamed"

    confirm = await client.get(undo.group(1))
    assert confirm.status == 200 and "Revert this change" in await confirm.text()
    body = await follow(client, await post(client, undo.group(1)))
    assert "reverted." in flash_of(body)
    assert (await parent(engine, 2))["name"] == "Parent 2"

    # Reverted once, the change offers no second revert, and refuses one.
    assert f'href="{undo.group(1)}"' not in body
    assert "(reverted by #" in body
    again = await post(client, undo.group(1))
    assert again.status == 409
    assert "already reverted" in await again.text()
    assert (await parent(engine, 2))["name"] == "Parent 2"


async def test_a_delete_flash_offers_undo_which_recreates_the_row(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/parents/r/3/delete")
    body = await follow(client, await form.submit(client))
    assert flash_of(body) == "Record 3 deleted. Undo"
    assert await parent(engine, 3) is None
    undo = UNDO.search(body)
    assert undo is not None
    await follow(client, await post(client, undo.group(1)))
    assert await parent(engine, 3) == {"id": 3, "name": "Parent 3", "active": True}


async def test_a_create_flash_offers_undo(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/parents/new")
    form.set("id", "9")
    form.set("name", "New")
    form.set("active", "1")
    body = await follow(client, await form.submit(client))
    undo = UNDO.search(body)
    assert flash_of(body) == "Record created. Undo" and undo is not None
    await follow(client, await post(client, undo.group(1)))
    assert await parent(engine, 9) is None


# --- the delete page ----------------------------------------------------------------------------


async def test_delete_page_says_the_delete_will_be_refused_with_counts(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    body = await (await client.get("/t/parents/r/1/delete")).text()
    assert "The database will refuse this delete" in body
    text = html.unescape(re.sub(r"<[^>]+>", "", body))
    assert "3 rows of children" in text
    # Rows the database deletes or clears along with the record are no obstacle.
    assert "of notes" not in text and "of orphans" not in text
    assert 'href="/t/children?parent_id__exact=1"' in body
    # ... and it is refused indeed.
    form = await open_form(client, "/t/parents/r/1/delete")
    response = await form.submit(client)
    assert response.status == 409
    assert await parent(engine, 1) is not None


async def test_delete_page_of_a_record_only_cascades_reference_says_nothing(
    tables, make_client
) -> None:
    client = await make_client(role="editor")
    body = await (await client.get("/t/parents/r/2/delete")).text()
    assert "will refuse" not in body


# --- the table page: nothing found, chips, bad filters -----------------------------------------


async def test_a_search_that_finds_nothing_shows_an_empty_state(tables, make_client) -> None:
    client = await make_client()
    full = await (await client.get("/t/parents?q=Parent")).text()
    assert 'class="pager"' in full and "Download" in full and 'class="facets"' in full
    response = await client.get("/t/parents?q=nothing-like-this&active__exact=1")
    assert response.status == 200
    body = await response.text()
    assert "Nothing found" in body
    assert "No rows found" in body and "of 0" not in body
    assert re.search(r'<a href="/t/parents">Clear the search and filters</a>', body)
    assert 'class="pager"' not in body and "Download" not in body
    assert 'class="facets"' not in body and "Show facets" not in body
    assert 'class="grid rows"' not in body


async def test_boolean_filter_chips_read_true_or_false(tables, make_client) -> None:
    client = await make_client()
    body = await (await client.get("/t/parents?active__exact=0")).text()
    assert "<span>active = false</span>" in body and "= 0<" not in body
    body = await (await client.get("/t/parents?active__not=1")).text()
    assert "<span>active ≠ true</span>" in body


async def test_the_search_chip_can_be_removed_keeping_the_filters(tables, make_client) -> None:
    client = await make_client()
    body = await (await client.get("/t/parents?q=Parent&id__gt=1")).text()
    match = re.search(r'<a href="([^"]+)" class="remove" title="Remove the search"', body)
    assert match is not None
    assert html.unescape(match.group(1)) == "/t/parents?id__gt=1"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("id__gt=abc", "Filter id__gt:"),
        ("nosuch__exact=1", "no such column"),
        ("active__lt=1", "Cannot filter 'active' with 'lt'"),
        ("filter_column=id&filter_op=gt&filter_value=abc", "Filter id__gt:"),
    ],
)
async def test_a_bad_filter_is_shown_beside_the_form_keeping_the_view(
    tables, make_client, query: str, message: str
) -> None:
    client = await make_client()
    response = await client.get(f"/t/parents?q=Parent&name__startswith=Par&sort=-id&{query}")
    assert response.status == 400
    body = await response.text()
    error = re.search(r'<p class="field-error" id="filter-error" role="alert">(.*?)</p>', body)
    assert error is not None and message in html.unescape(error.group(1))
    assert 'aria-describedby="filter-error"' in body
    # The rest of the view is kept: its search, its good filter, its order, its rows.
    assert 'value="Parent"' in body and "<span>name starts with Par</span>" in body
    ids = re.findall(r'href="/t/parents/r/(\d+)"', body)
    assert ids[:2] == ["5", "4"]
    if "filter_value" in query:
        assert 'name="filter_value" placeholder="value" value="abc"' in body


async def test_a_value_the_column_cannot_hold_is_shown_on_the_page(tables, make_client) -> None:
    client = await make_client()
    response = await client.get("/t/parents?id__gt=99999999999999999999999")
    assert response.status == 400
    body = await response.text()
    assert 'id="filter-error"' in body and 'class="grid rows"' in body


async def test_a_download_with_a_bad_filter_is_still_refused(tables, make_client) -> None:
    client = await make_client()
    response = await client.get("/t/parents.csv?id__gt=abc")
    assert response.status == 400


# --- the revert page -------------------------------------------------------------------------


async def test_revert_page_sentences_are_spaced(tables, make_client, open_form) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/parents/r/4/edit")
    form.set("name", "Changed")
    body = await follow(client, await form.submit(client))
    undo = UNDO.search(body)
    assert undo is not None
    page = await (await client.get(undo.group(1))).text()
    assert "back. The revert is refused" in page


# --- accounts -----------------------------------------------------------------------------------


async def test_account_changes_and_sign_out_are_confirmed(tables, make_client) -> None:
    client = await make_client()
    token = await form_token(client, "/admin/users")
    response = await client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "bob", "role": "viewer", "password": TEST_PASSWORD},
        allow_redirects=False,
    )
    assert flash_of(await follow(client, response)) == "User bob added, as viewer."
    response = await client.post(
        "/admin/users/bob/role", data={"csrf_token": token, "role": "editor"}, allow_redirects=False
    )
    assert flash_of(await follow(client, response)) == "bob now has the role editor."
    response = await client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": TEST_PASSWORD,
            "password": "another good password",
            "repeat": "another good password",
        },
        allow_redirects=False,
    )
    body = await follow(client, response)
    assert flash_of(body) == "Your password was changed."
    token = await form_token(client, "/")
    response = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    body = await follow(client, response)
    assert "You are signed out." in body and "Sign in" in body
