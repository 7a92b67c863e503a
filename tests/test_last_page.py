"""The "Last" link beside the pager: the last page of any view, the very rows that
following Next from the first page ends on (whether or not the rows divide evenly into
pages), by keyset read backwards where the order allows it, by page number otherwise; on
every backend."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import ITEMS, install
from tests.helpers import link, page_ids, walk


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    await install(module_engine)
    return await module_client(page_size=7)


def last_link(body: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" class="last-page">Last »</a>', body)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.mark.parametrize(
    ("view", "by_number"),
    [
        ("", False),  # the key: 60 rows, 7 a page, so the last page holds 4
        ("size=4", False),  # divides evenly
        ("sort=rank", False),  # an indexed column, ties broken by the key
        ("sort=-rank&size=9", False),
        ("sort=-id", False),
        ("active__exact=1&q=item", False),  # narrowed: 27 rows
        ("sort=name", True),  # no index: pages by number
        ("sort=-name&size=4", True),
        ("cols=name,rank&sort=rank", False),
    ],
)
async def test_last_page_is_where_next_ends(client, view: str, by_number: bool) -> None:
    start = f"/t/items?{view}"
    forwards = await walk(client, start, "next")
    assert sorted(i for page in forwards for i in page) == sorted(
        r["id"]
        for r in ITEMS
        if "active" not in view or (r["active"] and "item" in r["name"].lower())
    )
    first = await (await client.get(start)).text()
    href = last_link(first)
    assert href is not None
    response = await client.get(href)
    body = await response.text()
    assert response.status == 200, body
    assert page_ids(body) == forwards[-1]
    assert link(body, "next") is None and last_link(body) is None
    total = sum(len(page) for page in forwards)
    assert f"Rows {total - len(forwards[-1]) + 1}–{total} of {total}" in body
    assert f"Page {len(forwards)}<" in body
    # Back from the last page: the same pages as forwards, in reverse.
    assert await walk(client, href, "prev") == list(reversed(forwards))
    if by_number:
        assert "last=1" not in href and f"page={len(forwards)}" in href
    else:
        assert "last=1" in href


async def test_the_last_page_has_no_last_link_and_keeps_the_view(client) -> None:
    body = await (await client.get("/t/items?sort=-rank&cols=name&size=25")).text()
    href = last_link(body)
    assert href is not None and "cols=name" in href and "sort=-rank" in href
    short = await (await client.get("/t/items?size=100")).text()
    assert last_link(short) is None


@pytest.mark.parametrize("query", ["last=1&page=2", "last=1&cursor=abc"])
async def test_last_with_a_page_or_cursor_is_refused(client, query: str) -> None:
    response = await client.get(f"/t/items?{query}")
    assert response.status == 400
    assert "A link to the last page carries no page or cursor." in await response.text()


async def test_last_of_nothing_is_the_empty_first_page(client) -> None:
    response = await client.get("/t/items?last=1&name__exact=nobody")
    assert response.status == 200
    assert page_ids(await response.text()) == []
