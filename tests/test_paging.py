"""Keyset paging with signed cursors: forwards and backwards across ties, size changes, and
refusal of anything the server did not sign; OFFSET only where keyset cannot work."""

from __future__ import annotations

import base64
import json
import re

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import ITEMS, install, items
from tests.helpers import link, page_ids, walk
from webapp.web.appkeys import READ_ENGINE


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    """The module's app on its data, shared by the tests that only read."""
    await install(module_engine)
    return await module_client(page_size=100)


def in_order(*, descending: bool, where=lambda r: True) -> list[int]:
    rows = sorted((r for r in ITEMS if where(r)), key=lambda r: (r["rank"], r["id"]))
    return [r["id"] for r in (reversed(rows) if descending else rows)]


@pytest.mark.parametrize("sort", ["rank", "-rank"])
async def test_keyset_pages_forwards_and_backwards_across_ties(client, sort: str) -> None:
    expected = in_order(descending=sort.startswith("-"))
    forwards = await walk(client, f"/t/items?sort={sort}&size=4", "next")
    assert [i for page in forwards for i in page] == expected
    assert all(len(page) == 4 for page in forwards)
    last_body = await (await client.get(f"/t/items?sort={sort}&size=4")).text()
    href = link(last_body, "next")
    assert "cursor=" in href and "page=" not in href
    # From the last page back to the first, the same pages in reverse.
    last_href = None
    href = f"/t/items?sort={sort}&size=4"
    while href is not None:
        last_href = href
        href = link(await (await client.get(href)).text(), "next")
    backwards = await walk(client, last_href, "prev")
    assert backwards == list(reversed(forwards))


async def test_keyset_paging_keeps_filters_and_search(client) -> None:
    pages = await walk(client, "/t/items?sort=-rank&size=3&active__exact=1&q=item", "next")
    expected = in_order(
        descending=True, where=lambda r: r["active"] and "item" in r["name"].lower()
    )
    assert [i for page in pages for i in page] == expected


async def test_cursor_serves_any_page_size(client) -> None:
    body = await (await client.get("/t/items?size=10")).text()
    href = link(body, "next")
    assert page_ids(await (await client.get(href)).text()) == list(range(11, 21))
    smaller = href.replace("size=10", "size=3")
    assert page_ids(await (await client.get(smaller)).text()) == [11, 12, 13]
    body = await (await client.get(smaller)).text()
    assert "Rows 11–13 of 60" in body


async def test_previous_link_before_the_start_shows_a_full_first_page(client) -> None:
    body = await (await client.get("/t/items?size=10")).text()
    second = await (await client.get(link(body, "next"))).text()
    prev = link(second, "prev").replace("size=10", "size=15")
    first = await (await client.get(prev)).text()
    assert page_ids(first) == list(range(1, 16))
    assert link(first, "prev") is None


async def test_keyset_pages_run_without_offset(client) -> None:
    engine = client.server.app[READ_ENGINE].sync_engine
    body = await (await client.get("/t/items?size=5&sort=rank")).text()
    href = link(body, "next")
    for _ in range(3):
        href = link(await (await client.get(href)).text(), "next")
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        body = await (await client.get(href)).text()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert page_ids(body) == in_order(descending=False)[20:25]
    query, parameters = next((s, p) for s, p in statements if s.startswith("SELECT items.id"))
    assert "items.rank >" in query
    # SQLite always writes an OFFSET clause; it must be zero.
    assert "OFFSET" not in query.upper() or list(parameters)[-1] == 0


async def test_unindexed_or_nullable_sort_falls_back_to_page_numbers(client) -> None:
    body = await (await client.get("/t/items?sort=qty&size=10")).text()
    href = link(body, "next")
    assert "page=2" in href and "cursor=" not in href
    rows = sorted(ITEMS, key=lambda r: (r["qty"] is not None, r["qty"] or 0, r["id"]))
    second = page_ids(await (await client.get(href)).text())
    assert len(second) == 10 and set(second).isdisjoint(page_ids(body))
    assert len({r["id"] for r in rows}) == 60


async def test_composite_key_keyset_paging(engine: AsyncEngine, make_client) -> None:
    metadata = MetaData()
    pairs = Table(
        "pairs",
        metadata,
        Column("a", Integer, primary_key=True, autoincrement=False),
        Column("b", Integer, primary_key=True, autoincrement=False),
        Column("label", String(20)),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            pairs.insert(),
            [{"a": a, "b": b, "label": f"{a}-{b}"} for a in range(5) for b in range(4)],
        )
    client = await make_client()
    body = await (await client.get("/t/pairs?size=20")).text()
    expected = re.findall(r'<td class="pk"><a href="/t/pairs/r/(\d+,\d+)"', body)
    walked = []
    href: str | None = "/t/pairs?size=3"
    while href:
        page = await (await client.get(href)).text()
        walked += re.findall(r'<td class="pk"><a href="/t/pairs/r/(\d+,\d+)"', page)
        href = link(page, "next")
    assert walked == expected == [f"{a},{b}" for a in range(5) for b in range(4)]


def tamper(cursor: str) -> list[str]:
    body, signature = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload[2] = ["0"]
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [f"{forged}.{signature}", f"{body}.{flipped}", "abc", "abc.def", "", "." * 5000]


async def test_tampered_or_malformed_cursors_are_400(client, module_engine: AsyncEngine) -> None:
    body = await (await client.get("/t/items?size=10")).text()
    cursor = re.search(r"cursor=([^&\"]+)", link(body, "next")).group(1)
    for bad in tamper(cursor):
        if not bad:
            continue
        response = await client.get("/t/items", params={"cursor": bad})
        assert response.status == 400, bad
        text = await response.text()
        assert "This page link is damaged or was not made by this server" in text
        assert "Traceback" not in text
    async with module_engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(items)) == 60


async def test_cursor_for_another_sort_is_400(client) -> None:
    body = await (await client.get("/t/items?size=10&sort=rank")).text()
    cursor = re.search(r"cursor=([^&\"]+)", link(body, "next")).group(1)
    response = await client.get("/t/items", params={"cursor": cursor, "sort": "-rank"})
    assert response.status == 400
    assert "another sort order" in await response.text()
    response = await client.get("/t/items", params={"cursor": cursor, "sort": "qty"})
    assert response.status == 400
    response = await client.get("/t/items", params={"cursor": cursor, "page": "2"})
    assert response.status == 400
    assert "either page or cursor" in await response.text()


async def test_offset_pages_stop_where_offset_gets_expensive(client, monkeypatch) -> None:
    monkeypatch.setattr("webapp.listing.table_state.MAX_OFFSET_ROWS", 20)
    body = await (await client.get("/t/items?sort=qty&size=10&page=3")).text()
    assert len(page_ids(body)) == 10
    assert link(body, "next") is None
    assert "Page numbers reach the first 20 rows" in body
    response = await client.get("/t/items?sort=qty&size=10&page=4")
    assert response.status == 400
    assert "sort by the key or an indexed column" in await response.text()
    # A keyset order goes on past the limit with its cursors.
    pages = await walk(client, "/t/items?sort=rank&size=10", "next")
    assert len(pages) == 6


async def test_rows_per_page_links_keep_the_view_and_start_again(client) -> None:
    body = await (await client.get("/t/items?sort=-rank&active__exact=1&size=4")).text()
    nav = re.search(r'<nav class="page-sizes"[^>]*>(.*?)</nav>', body, re.S)
    assert nav is not None
    sizes = re.findall(
        r'<a href="([^"]+)">(\d+)</a>|<span aria-current="true">(\d+)</span>', nav[1]
    )
    current = [c for _, _, c in sizes if c]
    assert current == ["4"]  # the size shown is marked, not linked
    links = {int(n): href.replace("&amp;", "&") for href, n, _ in sizes if href}
    assert set(links) >= {10, 25, 50, 100}  # up to the configured most, with the table's own
    assert "size=10" in links[10] and "sort=-rank" in links[10] and "active__exact=1" in links[10]
    assert "size" not in links[100]  # the table's own size needs no parameter
    assert "cursor=" not in links[10] and "page=" not in links[10]
    page = await (await client.get(links[10])).text()
    expected = [r for r in in_order(descending=True, where=lambda r: r["active"])][:10]
    assert page_ids(page) == expected
