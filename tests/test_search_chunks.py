"""A search no index answers reads at most `pages.search_chunk_rows` rows per request, in
primary-key order: the rows found so far, or how far it read, with a "Continue searching"
link (a signed cursor) and "Search every remaining row" (`all=1`). Set to 10 rows here, so
that a walk takes many chunks, on every backend."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import link, page_ids
from webapp.web.appkeys import READ_ENGINE, SCHEMA_WATCH

CHUNK = 10
ROWS = 47
NEEDLE_IDS = [3, 4, 5, 6, 7, 23, 41, 42, 47]  # several in one chunk, none in others

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("body", String(40), nullable=False),
)


def body_of(number: int) -> str:
    return f"note {number} needle" if number in NEEDLE_IDS else f"note {number}"


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    async with module_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(notes), [{"id": i, "body": body_of(i)} for i in range(1, ROWS + 1)]
        )
    return await module_client(search_chunk_rows=CHUNK)


async def walk_ids(client, start: str) -> tuple[list[int], list[str]]:
    """The ids of every page from `start` on, following rel=next (Next or Continue
    searching), and what each page said of its search."""
    ids: list[int] = []
    notes_seen: list[str] = []
    href: str | None = start
    while href is not None:
        response = await client.get(href)
        assert response.status == 200, await response.text()
        body = await response.text()
        ids += page_ids(body, "notes")
        found = re.search(r'<section class="search-scan"[^>]*>\s*<p>([^<]*)</p>', body)
        notes_seen.append(found.group(1) if found else "")
        href = link(body, "next")
        assert len(notes_seen) < 60
    return ids, notes_seen


@pytest.mark.parametrize("sort", ["", "-id"])
async def test_continue_walk_finds_the_rows_of_the_unbounded_search_in_order(
    client, sort: str
) -> None:
    expected = sorted(NEEDLE_IDS, reverse=sort == "-id")
    ids, said = await walk_ids(client, f"/t/notes?q=needle&size=3&sort={sort}")
    unbounded, said_unbounded = await walk_ids(
        client, f"/t/notes?q=needle&size=3&sort={sort}&all=1"
    )
    assert ids == unbounded == expected
    assert any(text.startswith("Searched ") for text in said)  # it went in chunks
    assert any(text.endswith("no further match yet.") for text in said)
    assert not any(said_unbounded)


async def test_a_search_that_finds_nothing_says_how_far_it_read(client) -> None:
    response = await client.get("/t/notes?q=nowhere")
    body = await response.text()
    assert response.status == 200
    assert "Searched rows 1–10 of 47, no match yet." in body
    assert '<a class="skip" href="#main">' in body  # no table of rows to skip to
    assert "Nothing found" not in body
    continue_href = link(body, "next")
    assert continue_href is not None and "cursor=" in continue_href
    assert "Search every remaining row" in body
    body = await (await client.get(continue_href)).text()
    assert "Searched rows 1–20 of 47, no match yet." in body
    all_href = re.search(r'<a href="([^"]+)">Search every remaining row', body)
    assert all_href is not None and "all=1" in all_href.group(1)
    body = await (await client.get(all_href.group(1).replace("&amp;", "&"))).text()
    assert "Nothing found" in body and "search-scan" not in body


async def test_the_page_after_found_rows_says_no_further_match_yet(client) -> None:
    ids, said = await walk_ids(client, "/t/notes?q=needle&size=50")
    assert ids == NEEDLE_IDS
    assert said[0] == "Searched rows 1–10 of 47; rows further on may match too."
    first = await (await client.get("/t/notes?q=needle&size=50")).text()
    assert '<a class="skip" href="#rows">' in first
    assert said[1:4] == [
        "Searched rows 1–20 of 47, no further match yet.",
        "Searched rows 1–30 of 47; rows further on may match too.",
        "Searched rows 1–40 of 47, no further match yet.",
    ]
    assert said[4:] == [""]  # the last chunk reached the last row: nothing more to say


async def test_a_walk_on_from_a_next_link_counts_the_rows_it_read(client) -> None:
    body = await (await client.get("/t/notes?q=needle&size=3")).text()
    assert page_ids(body, "notes") == [3, 4, 5] and "search-scan" not in body
    body = await (await client.get(link(body, "next"))).text()
    assert page_ids(body, "notes") == [6, 7]
    assert "Searched 10 more rows of 47; rows further on may match too." in body


async def test_every_remaining_row_at_once_with_all(client) -> None:
    body = await (await client.get("/t/notes?q=needle&size=50&all=1")).text()
    assert page_ids(body, "notes") == NEEDLE_IDS
    assert "search-scan" not in body


@pytest.mark.parametrize("prefix", ["", "/api"])
async def test_a_tampered_cursor_is_a_400(client, prefix: str) -> None:
    body = await (await client.get("/t/notes?q=nowhere")).text()
    continue_href = link(body, "next")
    assert continue_href is not None
    cursor = re.search(r"cursor=([^&]+)", continue_href).group(1)
    flipped = ("B" if cursor[3] != "B" else "C").join([cursor[:3], cursor[4:]])
    response = await client.get(prefix + continue_href.replace(cursor, flipped))
    assert response.status == 400
    assert "damaged" in await response.text()


async def test_the_api_says_how_far_it_searched_and_links_on(client) -> None:
    response = await client.get("/api/t/notes?q=needle&size=50")
    assert response.status == 200
    document: dict[str, Any] = await response.json()
    assert [row["id"] for row in document["rows"]] == [3, 4, 5, 6, 7]
    assert document["searched"] == {
        "rows": 10,
        "through": 10,
        "of": {"value": 47, "kind": "exact"},
        "found": True,
        "text": "Searched rows 1–10 of 47; rows further on may match too.",
    }
    assert document["count"] == {"value": None, "kind": "unknown"}
    assert document["links"]["next"] is None
    assert "all=1" in document["links"]["all"]
    ids = [row["id"] for row in document["rows"]]
    href = document["links"]["continue"]
    while href is not None:
        document = await (await client.get(href)).json()
        ids += [row["id"] for row in document["rows"]]
        href = document["links"]["continue"] or document["links"]["next"]
    assert ids == NEEDLE_IDS
    assert document["searched"] is None and document["links"]["continue"] is None
    everything = await (await client.get("/api/t/notes?q=needle&size=50&all=1")).json()
    assert [row["id"] for row in everything["rows"]] == NEEDLE_IDS
    assert everything["searched"] is None and everything["count"]["value"] == len(NEEDLE_IDS)


async def test_a_table_no_bigger_than_a_chunk_is_searched_whole(
    module_engine: AsyncEngine, module_client
) -> None:
    client = await module_client(search_chunk_rows=ROWS)
    await client.get("/t/notes")  # its count, now cached, says it fits in one chunk
    body = await (await client.get("/t/notes?q=nowhere")).text()
    assert "Nothing found" in body and "search-scan" not in body


async def test_no_match_is_kept_briefly_and_forgotten_after_a_write(
    make_client, engine: AsyncEngine, open_form
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(notes), [{"id": i, "body": body_of(i)} for i in range(1, ROWS + 1)]
        )
    client = await make_client(search_chunk_rows=CHUNK)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    read_engine = client.server.app[READ_ENGINE].sync_engine
    event.listen(read_engine, "before_cursor_execute", seen)
    try:
        first = await (await client.get("/t/notes?q=haystack")).text()
        assert "no match yet" in first
        read_first = [s for s in statements if "haystack" in s or "LIKE" in s.upper()]
        assert read_first
        statements.clear()
        assert await (await client.get("/t/notes?q=haystack")).text() == first
        assert not [s for s in statements if "FROM notes" in s]  # from the cache
        form = await open_form(client, "/t/notes/r/2/edit")
        form.set("body", "a haystack")
        assert (await form.submit(client)).status == 303
        body = await (await client.get("/t/notes?q=haystack")).text()
        assert page_ids(body, "notes") == [2]
    finally:
        event.remove(read_engine, "before_cursor_execute", seen)


async def test_the_openapi_document_describes_searched_and_its_links(client) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/api/t/notes"]["get"]
    assert "all" in [parameter["name"] for parameter in operation["parameters"]]
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(page["properties"]["searched"]["properties"]) == {
        "rows",
        "through",
        "of",
        "found",
        "text",
    }
    assert {"continue", "all"} <= set(page["properties"]["links"]["properties"])


async def test_no_match_is_forgotten_when_the_schema_is_reloaded(
    make_client, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(notes), [{"id": i, "body": body_of(i)} for i in range(1, ROWS + 1)]
        )
    client = await make_client(search_chunk_rows=CHUNK)
    assert "no match yet" in await (await client.get("/t/notes?q=haystack")).text()
    async with engine.begin() as conn:  # written behind the app's back
        await conn.execute(notes.update().where(notes.c.id == 4).values(body="haystack"))
    # Row 4 is in the first chunk: only the kept answer can still say nothing matches.
    assert "no match yet" in await (await client.get("/t/notes?q=haystack")).text()
    assert await client.server.app[SCHEMA_WATCH].refresh("a test", force=True)
    assert page_ids(await (await client.get("/t/notes?q=haystack")).text(), "notes") == [4]
