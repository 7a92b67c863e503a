"""Column statistics on every backend: the numbers equal what Python computes from the same
rows, every bar, common value and NULL link finds exactly the rows it counts, the view's
filters apply, role rules hold, and big or slow views say "sampled" or "not computed"."""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, Date, Double, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import ITEMS, install
from webapp.listing import statistics
from webapp.listing.statistics import date_edges, number_edges
from webapp.settings import table_options
from webapp.web.errors import TooSlow

extra = MetaData()
readings = Table(
    "readings",
    extra,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", Double),
    Column("day", Date),
    Column("tag", String(20)),
)
READINGS = [
    {
        "id": n,
        "value": None if n % 9 == 0 else (n - 20) * 0.37 + (1e-3 if n % 2 else 0.0),
        "day": None if n % 8 == 0 else dt.date(1700, 1, 1) + dt.timedelta(days=n * 2011),
        "tag": None if n % 6 == 0 else ("a", "b", "b", "c", "c", "c")[n % 6],
    }
    for n in range(1, 41)
]
COLUMNS = {
    "items": ["id", "qty", "price", "born", "seen_at", "code", "status", "active", "name"],
    "readings": ["value", "day", "tag"],
}
ROWS = {"items": ITEMS, "readings": READINGS}


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    await install(module_engine)
    async with module_engine.begin() as conn:
        await conn.run_sync(extra.create_all)
        await conn.execute(readings.insert(), READINGS)
    return await module_client()


def python_value(text: str, sample: Any) -> Any:
    """A bin edge's filter text as a value of the column's Python type."""
    if isinstance(sample, bool):
        raise AssertionError("no histogram of booleans")
    if isinstance(sample, int):
        return int(text)
    if isinstance(sample, float):
        return float(text)
    if isinstance(sample, Decimal):
        return Decimal(text)
    if isinstance(sample, dt.datetime):
        return dt.datetime.fromisoformat(text)
    return dt.date.fromisoformat(text)


async def statistics_json(client, table: str, column: str, query: str = "") -> dict[str, Any]:
    response = await client.get(f"/api/t/{table}/stats/{column}{query}")
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.mark.parametrize(("table", "column"), [(t, c) for t, cs in COLUMNS.items() for c in cs])
async def test_statistics_equal_what_python_computes(client, table: str, column: str) -> None:
    rows = ROWS[table]
    values = [row[column] for row in rows]
    present = [value for value in values if value is not None]
    stats = await statistics_json(client, table, column)
    assert stats["computed"] and not stats["sampled"]
    assert stats["rows"] == len(rows)
    assert stats["nulls"] == len(values) - len(present)
    assert stats["distinct"] == len(set(present))
    histogram = stats["histogram"]
    if isinstance(present[0], bool | str):
        assert histogram is None
        top = stats["top_values"]
        expected = Counter(present).most_common()
        assert [bar["count"] for bar in top] == [n for _, n in expected][: len(top)]
        return
    assert histogram is not None, stats
    bins = histogram["bins"]
    assert python_value(bins[0]["low"], present[0]) == min(present)
    assert python_value(bins[-1]["high"], present[0]) == max(present)
    assert bins[-1]["high_included"] and not any(bar["high_included"] for bar in bins[:-1])
    for bar in bins:
        low = python_value(bar["low"], present[0])
        high = python_value(bar["high"], present[0])
        inside = [
            v for v in present if low <= v and (v <= high if bar["high_included"] else v < high)
        ]
        assert bar["count"] == len(inside), bar
    assert sum(bar["count"] for bar in bins) == len(present)
    assert len(bins) <= statistics.TARGET_BINS + 2


ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
LINKED = re.compile(
    r'<tr><td[^>]*><a href="([^"]*)">(?:(?!</tr>).)*?<td class="num">([\d,]+)</td></tr>', re.S
)
NULL_LINK = re.compile(r'<dt>NULL</dt><dd><a href="([^"]*)">([\d,]+)</a>')


async def found_rows(client, href: str) -> int:
    response = await client.get(href + "&size=500")
    assert response.status == 200, href
    page = await response.text()
    return len(ROW.findall(page[page.find("<tbody>") : page.find("</tbody>")]))


LINK_CASES = [(t, c, "") for t, cs in COLUMNS.items() for c in cs] + [
    ("items", c, "?qty__gte=2&q=Item") for c in COLUMNS["items"]
]


@pytest.mark.parametrize(("table", "column", "query"), LINK_CASES)
async def test_every_link_finds_the_rows_it_counts(client, table: str, column: str, query: str):
    response = await client.get(f"/t/{table}/stats/{column}{query}")
    assert response.status == 200
    page = await response.text()
    assert "<svg" in page and "<tr><td" in page
    links = LINKED.findall(page) + NULL_LINK.findall(page)
    assert links
    for href, count in links:
        href = html.unescape(href)
        if query:
            assert "qty__gte=2" in href and "q=Item" in href
        assert await found_rows(client, href) == int(count.replace(",", "")), href


async def test_the_view_filters_apply(client) -> None:
    stats = await statistics_json(client, "items", "qty", "?qty__gte=2&q=Item")
    expected = [r for r in ITEMS if r["qty"] is not None and r["qty"] >= 2 and "Item" in r["name"]]
    assert stats["rows"] == len(expected)
    assert stats["nulls"] == 0
    assert stats["min"] == "2" and stats["max"] == "5"
    assert [bar["count"] for bar in stats["histogram"]["bins"]] == [
        sum(1 for r in expected if r["qty"] == n) for n in range(2, 6)
    ]


async def test_each_heading_links_to_its_statistics_keeping_the_view(client) -> None:
    page = await (await client.get("/t/items?code__exact=C1")).text()
    assert 'href="/t/items/stats/qty?code__exact=C1"' in page
    assert 'aria-label="Statistics of qty"' in page


async def test_dates_are_binned_by_a_unit_chosen_from_their_range(client) -> None:
    born = await statistics_json(client, "items", "born")  # 60 days: by week
    assert born["histogram"]["unit"] == "week"
    assert born["histogram"]["bins"][1]["low"] == "2020-01-06"  # a Monday
    day = await statistics_json(client, "readings", "day")  # ~220 years: by 20 years
    assert day["histogram"]["unit"] == "20 years"
    assert all(bar["low"].endswith("-01-01") for bar in day["histogram"]["bins"][1:])
    narrow = await statistics_json(client, "items", "born", "?id__lte=10")
    assert narrow["histogram"]["unit"] == "day"
    assert len(narrow["histogram"]["bins"]) == 10


def test_date_units_from_day_to_centuries() -> None:
    start = dt.date(2024, 1, 1)
    for days, unit in [(5, "day"), (100, "week"), (400, "month"), (3000, "year")]:
        assert date_edges(start, start + dt.timedelta(days=days))[0] == unit
    unit, edges, labels = date_edges(dt.date(1000, 1, 1), dt.date(9999, 12, 31))
    assert unit == "500 years"
    assert edges[:3] == ["1000-01-01", "1500-01-01", "2000-01-01"]
    assert edges[-1] == "9999-12-31" and labels[0] == "1000–1499"
    moment = dt.datetime(2024, 2, 29, 12, 30, 0, 1)
    unit, edges, _ = date_edges(moment, moment + dt.timedelta(days=3))
    assert edges == [
        "2024-02-29 12:30:00.000001",
        "2024-03-01 00:00:00",
        "2024-03-02 00:00:00",
        "2024-03-03 00:00:00",
        "2024-03-03 12:30:00.000001",
    ]


class FakeFloatKind(statistics.FloatKind):
    def __init__(self) -> None:  # no column needed to write edges
        pass


def test_float_edges_read_back_exactly_even_at_the_extremes() -> None:
    kind = FakeFloatKind()
    _unit, edges, _ = number_edges(kind, -1.7976931348623157e308, 1.7976931348623157e308)
    assert edges[0] == "-1.7976931348623157e+308" and edges[-1] == "1.7976931348623157e+308"
    values = [float(edge) for edge in edges]
    assert all(math.isfinite(v) for v in values) and values == sorted(set(values))
    assert [repr(v) for v in values] == edges
    assert number_edges(kind, 0.5, 0.5)[1] == ["0.5", "0.5"]
    assert number_edges(kind, float("nan"), 1.0) is None


async def test_hidden_and_unknown_columns_are_404(module_client, client) -> None:
    viewer = await module_client(
        role="viewer",
        tables=table_options({"items": {"roles": {"viewer": {"hidden_columns": ["secret"]}}}}),
    )
    for path in ("/t/items/stats/secret", "/api/t/items/stats/secret", "/t/items/stats/nope"):
        response = await viewer.get(path)
        assert response.status == 404, path
        assert "s3cr3t" not in await response.text()
    assert (await viewer.get("/t/items/stats/qty")).status == 200
    page = await (await viewer.get("/t/items")).text()
    assert "/stats/secret" not in page


async def test_a_bad_filter_is_a_400_problem(client) -> None:
    response = await client.get("/api/t/items/stats/qty?qty__gte=many")
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert "qty__gte" in (await response.json())["detail"]
    assert (await client.get("/t/items/stats/qty?qty__gte=many")).status == 400


async def test_a_big_view_is_sampled_and_says_so(client, monkeypatch) -> None:
    monkeypatch.setattr(statistics, "SAMPLE_ROWS", 7)
    stats = await statistics_json(client, "readings", "tag", "?id__gte=3")
    assert stats["sampled"] and stats["rows"] == 7
    page = await (await client.get("/t/readings/stats/tag?id__gte=3")).text()
    assert "Sampled" in page and "first 7 rows" in page


async def test_a_slow_column_says_not_computed(client, monkeypatch) -> None:
    async def too_slow(*_args: Any) -> None:
        raise TooSlow(0.1)

    monkeypatch.setattr("webapp.views.statistics.column_statistics", too_slow)
    stats = await statistics_json(client, "readings", "tag", "?id__gte=4")
    assert stats["computed"] is False and "Not computed" in stats["notes"][0]
    page = await (await client.get("/t/readings/stats/tag?id__gte=5")).text()
    assert "Not computed" in page
