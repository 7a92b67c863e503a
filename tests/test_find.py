"""Finding records: search, filters per type family, facets, counts and FK labels, on every
backend."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import ITEMS, ids_where, install, items, owners
from tests.helpers import link, page_ids
from webapp.listing import counts
from webapp.listing.counts import RowCount
from webapp.settings import table_options
from webapp.web.appkeys import READ_ENGINE, TABLE_COUNTS


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    """The module's app on the fixture tables, shared by the tests that only read."""
    await install(module_engine)
    return await module_client(page_size=100)


@pytest.fixture
async def own_client(engine: AsyncEngine, make_client):
    """An app of the test's own, for tests that write, patch the app or read its caches."""
    await install(engine)
    return await make_client(page_size=100)


async def ids_for(client, query: str) -> list[int]:
    response = await client.get(f"/t/items?size=500&{query}")
    assert response.status == 200, await response.text()
    return page_ids(await response.text())


async def row_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(items)) or 0)


async def test_search_matches_text_columns_ignoring_case(client) -> None:
    assert await ids_for(client, "q=item+0") == ids_where(lambda r: "item 0" in r["name"].lower())
    assert await ids_for(client, "q=ITEM+1") == ids_where(lambda r: "item 1" in r["name"].lower())
    assert await ids_for(client, "q=note+42") == [42]


@pytest.mark.parametrize(("text", "expected"), [("%", [7]), ("_", [8]), ("a_b", [8])])
async def test_search_escapes_like_wildcards(client, text: str, expected: list[int]) -> None:
    response = await client.get("/t/items", params={"q": text, "size": "500"})
    assert page_ids(await response.text()) == expected


async def test_search_keeps_sort_and_filters_in_its_links(client) -> None:
    body = await (await client.get("/t/items?q=item&sort=-rank&size=5&active__exact=1")).text()
    assert (
        page_ids(body)
        == [
            r["id"]
            for r in sorted(ITEMS, key=lambda r: (r["rank"], r["id"]), reverse=True)
            if "item" in r["name"].lower() and r["active"]
        ][:5]
    )
    next_href = link(body, "next")
    assert "q=item" in next_href and "sort=-rank" in next_href and "active__exact=1" in next_href


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("qty__exact=3", lambda r: r["qty"] == 3),
        ("qty__not=3", lambda r: r["qty"] != 3),
        ("qty__lt=2", lambda r: r["qty"] is not None and r["qty"] < 2),
        ("qty__lte=2", lambda r: r["qty"] is not None and r["qty"] <= 2),
        ("qty__gt=4", lambda r: r["qty"] is not None and r["qty"] > 4),
        ("qty__gte=4", lambda r: r["qty"] is not None and r["qty"] >= 4),
        ("qty__in=1,5", lambda r: r["qty"] in (1, 5)),
        ("qty__isnull=1", lambda r: r["qty"] is None),
        ("qty__notnull=1", lambda r: r["qty"] is not None),
        ("price__gte=30.5&price__lt=45", lambda r: Decimal("30.5") <= r["price"] < 45),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_number_filters(client, query: str, predicate) -> None:
    assert await ids_for(client, query) == ids_where(predicate)


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("code__exact=C1", lambda r: r["code"] == "C1"),
        ("code__not=C1", lambda r: r["code"] != "C1"),
        ("name__contains=tem+1", lambda r: "tem 1" in r["name"]),
        ("name__startswith=Item+2", lambda r: r["name"].startswith("Item 2")),
        ("name__endswith=thing", lambda r: r["name"].endswith("thing")),
        ("name__contains=%25", lambda r: "%" in r["name"]),
        ("code__in=C0,C2", lambda r: r["code"] in ("C0", "C2")),
        ("code__isnull=1", lambda r: r["code"] is None),
        ("code__gte=C2", lambda r: r["code"] is not None and r["code"] >= "C2"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_text_filters(client, query: str, predicate) -> None:
    assert await ids_for(client, query) == ids_where(predicate)


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("born__gte=2020-01-10&born__lte=2020-01-20", lambda r: 9 <= r["id"] <= 19),
        ("born__exact=2020-01-05", lambda r: r["id"] == 4),
        ("born__lt=2020-01-04", lambda r: r["id"] < 3),
        # A day given for a date-and-time column covers the whole day.
        (
            "seen_at__gte=2021-01-05&seen_at__lte=2021-01-06",
            lambda r: dt.date(2021, 1, 5) <= r["seen_at"].date() <= dt.date(2021, 1, 6),
        ),
        ("seen_at__exact=2021-01-03", lambda r: r["seen_at"].date() == dt.date(2021, 1, 3)),
        ("seen_at__gt=2021-01-30", lambda r: r["seen_at"].date() > dt.date(2021, 1, 30)),
        (
            "seen_at__lt=2021-01-02+13:00",
            lambda r: r["seen_at"] < dt.datetime(2021, 1, 2, 13, 0),
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_date_filters_and_ranges(client, query: str, predicate) -> None:
    assert await ids_for(client, query) == ids_where(predicate)


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("active__exact=true", lambda r: r["active"]),
        ("active__exact=0", lambda r: not r["active"]),
        ("active__not=yes", lambda r: not r["active"]),
        ("status__exact=open", lambda r: r["status"] == "open"),
        ("status__in=new,closed", lambda r: r["status"] in ("new", "closed")),
        ("status__not=open&active__exact=1", lambda r: r["status"] != "open" and r["active"]),
        ("owner_id__exact=2", lambda r: r["owner_id"] == 2),
        ("owner_id__isnull=1", lambda r: r["owner_id"] is None),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_boolean_enum_and_key_filters(client, query: str, predicate) -> None:
    assert await ids_for(client, query) == ids_where(predicate)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("nope__exact=1", "Cannot filter &#39;items&#39; on &#39;nope&#39;: no such column."),
        ("qty__like=1", "Cannot filter &#39;qty&#39; with &#39;like&#39;"),
        ("qty__contains=1", "Cannot filter &#39;qty&#39; with &#39;contains&#39;"),
        ("qty__exact=abc", "&#39;qty&#39; holds whole numbers, not &#39;abc&#39;"),
        ("qty__exact=99999999999999999999", "&#39;qty&#39; holds whole numbers"),
        ("born__gte=yesterday", "&#39;born&#39; holds dates (2024-01-31)"),
        ("seen_at__lt=2021-13-01", "&#39;seen_at&#39; holds dates and times"),
        ("active__exact=maybe", "&#39;active&#39; holds true or false"),
        ("qty__in=1,x", "&#39;qty&#39; holds whole numbers, not &#39;x&#39;"),
        ("__exact=1", "no such column"),
        ("q=" + "x" * 201, "A search may be at most 200 characters long."),
    ],
)
async def test_bad_filters_are_400_with_a_clear_message(
    client, module_engine: AsyncEngine, query: str, message: str
) -> None:
    before = await row_count(module_engine)
    response = await client.get(f"/t/items?{query}")
    assert response.status == 400
    body = await response.text()
    assert message in body
    assert "Traceback" not in body
    assert await row_count(module_engine) == before


async def test_nan_filter_is_a_value_on_postgresql_and_refused_elsewhere(
    client, module_engine: AsyncEngine, backend: str
) -> None:
    """PostgreSQL's NUMERIC holds NaN (greater than every number), so `> NaN` finds nothing
    and `< NaN` finds every priced row; the other backends have no NaN to compare with."""
    if backend == "postgresql":
        assert await ids_for(client, "price__gt=NaN") == []
        assert await ids_for(client, "price__lt=NaN") == ids_where(lambda r: r["price"] is not None)
        response = await client.get("/t/items?price__gt=Infinity")
        assert response.status == 400
        assert "cannot hold &#39;Infinity&#39;" in await response.text()
        return
    before = await row_count(module_engine)
    response = await client.get("/t/items?price__gt=NaN")
    assert response.status == 400
    assert "&#39;price&#39; holds numbers" in await response.text()
    assert await row_count(module_engine) == before


async def test_enum_filter_refuses_a_value_outside_the_enum(
    client, module_engine: AsyncEngine, backend: str
) -> None:
    response = await client.get("/t/items?status__exact=lost")
    if backend == "sqlite":  # SQLite has no enum type: the column reflects as VARCHAR
        assert response.status == 200 and page_ids(await response.text()) == []
        return
    assert response.status == 400
    assert "&#39;status&#39; holds one of new, open, closed" in await response.text()


async def test_default_facets_are_enums_booleans_and_foreign_keys(client, backend: str) -> None:
    body = await (await client.get("/t/items")).text()
    headings = re.findall(r'<section class="facet">\n<h2 title="(\w+)">[^<]*</h2>', body)
    expected = ["owner_id", "active"] if backend == "sqlite" else ["owner_id", "status", "active"]
    assert headings == expected


async def test_filter_form_redirects_to_a_bookmarkable_url(client) -> None:
    response = await client.get(
        "/t/items?q=item&status__exact=open&filter_column=qty&filter_op=gte&filter_value=4",
        allow_redirects=False,
    )
    assert response.status == 302
    assert response.headers["Location"] == "/t/items?q=item&status__exact=open&qty__gte=4"
    body = await (await client.get(response.headers["Location"])).text()
    assert "qty ≥ 4" in body and "status = open" in body


async def test_active_filter_has_a_remove_link(client) -> None:
    body = await (await client.get("/t/items?status__exact=open&qty__gte=4")).text()
    assert 'href="/t/items?qty__gte=4" class="remove"' in body
    assert 'href="/t/items?status__exact=open" class="remove"' in body


async def test_facets_count_the_filtered_set_and_link_to_filters(client, module_client) -> None:
    options = {"items": {"facet_columns": ["status", "owner_id"]}}
    client = await module_client(tables=table_options(options))
    body = await (await client.get("/t/items?active__exact=1")).text()
    facet = re.search(r'<h2 title="status">.*?</h2>(.*?)</section>', body, re.S).group(1)
    shown = dict(
        re.findall(r'<span class="v-\w+">(\w+)</span></a> <span class="facet-count">(\d+)', facet)
    )
    active = [r for r in ITEMS if r["active"]]
    assert shown == {s: str(sum(1 for r in active if r["status"] == s)) for s in shown}
    assert set(shown) == {"new", "open", "closed"}
    assert 'href="/t/items?active__exact=1&amp;status__exact=open"' in facet
    owner_facet = re.search(r'<h2 title="owner_id">.*?</h2>(.*?)</section>', body, re.S).group(1)
    assert "Owner 2" in owner_facet  # foreign-key facets show the referenced row's label


async def test_selected_facet_value_links_to_its_removal(client) -> None:
    body = await (await client.get("/t/items?active__exact=1")).text()
    facet = re.search(r'<h2 title="active">.*?</h2>(.*?)</section>', body, re.S).group(1)
    assert re.search(r'<li class="selected"><a href="/t/items" aria-current="true"', facet)


async def test_facets_on_a_big_table_wait_to_be_asked(own_client, monkeypatch) -> None:
    monkeypatch.setattr("webapp.views.table.AUTO_FACET_MAX_ROWS", 10)
    body = await (await own_client.get("/t/items")).text()
    assert '<h2 title="active">' not in body
    assert 'href="/t/items?facets=1">Show facets</a>' in body
    body = await (await own_client.get("/t/items?facets=1")).text()
    assert '<h2 title="active">' in body


async def test_facet_that_times_out_is_left_out_with_a_note(own_client, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    from webapp.listing import facets

    async def slow(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("Query execution was interrupted"))

    monkeypatch.setattr(facets, "fetch_rows", slow)
    response = await own_client.get("/t/items")
    assert response.status == 200
    body = await response.text()
    assert "left out: counting took too long" in body
    assert page_ids(body) == [r["id"] for r in ITEMS]


async def test_small_table_count_is_exact(client) -> None:
    body = await (await client.get("/t/items?size=10")).text()
    assert "Rows 1–10 of 60" in body
    body = await (await client.get("/t/items?size=10&status__exact=open")).text()
    assert f"of {len(ids_where(lambda r: r['status'] == 'open'))}" in body


async def test_page_does_not_wait_while_another_request_counts(own_client) -> None:
    cache = own_client.server.app[TABLE_COUNTS]
    key = ("items", (("active__exact", "1"),), "")
    assert cache.lookup(key) == (None, True)  # as if a request were counting this set now
    body = await (await own_client.get("/t/items?size=10&active__exact=1")).text()
    assert "Rows 1–10 of" in body and "more than 10" in body
    cache.put(key, RowCount(30, "exact"))
    body = await (await own_client.get("/t/items?size=10&active__exact=1")).text()
    assert "Rows 1–10 of 30" in body


async def test_page_past_the_end_has_no_rows_and_the_true_count(client) -> None:
    body = await (await client.get("/t/items?size=10&page=50")).text()
    assert page_ids(body) == []
    assert "No rows" in body and "of 60" in body


async def test_big_table_count_is_an_estimate_and_filtered_count_a_lower_bound(
    own_client, monkeypatch, engine: AsyncEngine, backend: str
) -> None:
    monkeypatch.setattr(counts, "EXACT_COUNT_LIMIT", 10)
    async with engine.begin() as conn:
        if backend == "mysql":
            await conn.exec_driver_sql("ANALYZE TABLE items")
        elif backend == "postgresql":
            await conn.exec_driver_sql("ANALYZE items")
    body = await (await own_client.get("/t/items?size=5")).text()
    assert re.search(r'title="an estimate from the database\'s statistics">about \d+', body)
    body = await (await own_client.get("/t/items?size=5&active__exact=1")).text()
    assert "more than 10" in body
    # The last page knows its count exactly.
    body = await (await own_client.get("/t/items?size=50&active__exact=1")).text()
    assert "Rows 1–30 of 30" in body


async def test_fk_labels_cost_one_query_per_relation_whatever_the_page_size(own_client) -> None:
    engine = own_client.server.app[READ_ENGINE].sync_engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    # Fill the count and facet caches, as any earlier visitors would.
    await own_client.get("/t/items?size=10")
    await own_client.get("/t/items?size=100")
    event.listen(engine, "before_cursor_execute", record)
    try:
        small = await (await own_client.get("/t/items?size=10")).text()
        small_count, statements[:] = len(statements), []
        large = await (await own_client.get("/t/items?size=100")).text()
        large_count = len(statements)
        owner_queries = [s for s in statements if "owners" in s]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert small_count == large_count
    # The page's labels come with its rows (a subquery in its one statement); the owner_id
    # facet (with its labels' IN query) was kept from the earlier visit.
    assert len(owner_queries) == 1
    assert re.search(r'<a href="/t/owners/r/2">Owner 2</a> <span class="fk-key">2</span>', small)
    assert large.count('</a> <span class="fk-key">') == sum(1 for r in ITEMS if r["owner_id"])


async def test_record_page_shows_the_label_of_each_foreign_key(client) -> None:
    body = await (await client.get("/t/items/r/1")).text()
    assert re.search(r'<a href="/t/owners/r/2">Owner 2</a> <span class="fk-key">', body)


async def test_record_page_links_referencing_rows_to_the_filtered_table(client) -> None:
    body = await (await client.get("/t/owners/r/2")).text()
    expected = ids_where(lambda r: r["owner_id"] == 2)
    assert re.search(rf"via owner_id</span>: {len(expected)} ", body)
    href = re.search(r'<a class="filtered" href="([^"]+)">list them</a>', body).group(1)
    assert href == "/t/items?owner_id__exact=2"
    assert await ids_for(client, "owner_id__exact=2") == expected
    lonely = await (await client.get("/t/owners/r/6")).text()
    assert "list them" not in lonely


async def test_hostile_values_and_labels_are_escaped(own_client, engine: AsyncEngine) -> None:
    hostile = "<script>alert(1)</script>\"'&"
    async with engine.begin() as conn:
        await conn.execute(owners.update().where(owners.c.id == 2).values(name=hostile))
        await conn.execute(items.update().where(items.c.id == 1).values(name=hostile))
    body = await (await own_client.get("/t/items?size=10")).text()
    assert "<script>alert(1)" not in body
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;"
    assert f"<td>{escaped}</td>" in body
    assert f'">{escaped}</a> <span class="fk-key">' in body
