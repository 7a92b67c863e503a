"""Downloading a table view as CSV or JSON: every row the view selects (filters, search,
order), every visible column and no hidden one, values as the record page shows them,
streamed in batches, errors before the first byte as pages, never a short download."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import ITEMS, install
from tests.helpers import SMALL_DEMO, install_a_malformed_date
from webapp.demo import install_demo
from webapp.listing import exports
from webapp.listing.exports import csv_text, json_value
from webapp.settings import table_options
from webapp.views import export as export_view
from webapp.web.appkeys import CATALOG, EXPENSIVE_QUERIES

VISIBLE = [
    "id", "owner_id", "name", "code", "status", "active", "price", "qty", "born", "seen_at",
    "rank", "note",
]  # fmt: skip


def csv_rows(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


def expected_csv(row: dict[str, Any]) -> list[str]:
    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, Decimal):
            return format(value, "f")
        if hasattr(value, "isoformat"):
            return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
        return str(value)

    return [text(row[name]) for name in VISIBLE]


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    """The module's app on its data, shared by the tests that only read."""
    await install(module_engine)
    return await module_client(tables=table_options({"items": {"hidden_columns": ["secret"]}}))


@pytest.fixture
async def own_client(engine: AsyncEngine, make_client):
    """An app of the test's own, for tests that write or patch the app."""
    await install(engine)
    return await make_client(tables=table_options({"items": {"hidden_columns": ["secret"]}}))


async def test_csv_holds_every_row_and_visible_column_as_the_pages_show_them(client) -> None:
    response = await client.get("/t/items.csv")
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''items.csv"
    body = await response.text()
    assert "\r\n" in body
    rows = csv_rows(body)
    assert rows[0] == VISIBLE
    assert rows[1:] == [expected_csv(row) for row in ITEMS]
    assert "s3cr3t" not in body and "secret" not in body


async def test_json_keeps_types_and_exact_digits(client) -> None:
    response = await client.get("/t/items.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    data = json.loads(await response.text())
    assert len(data) == len(ITEMS)
    first = data[0]
    assert list(first) == VISIBLE
    source = ITEMS[0]
    assert first["id"] == 1 and first["qty"] == source["qty"]
    assert first["active"] is False and data[1]["active"] is True
    assert first["price"] == "1.50"  # a string: its exact digits
    assert first["born"] == source["born"].isoformat()
    assert first["seen_at"] == source["seen_at"].isoformat(sep=" ")
    assert first["code"] == "C1" and data[6]["code"] is None
    assert all("secret" not in row for row in data)


async def test_the_views_filters_search_and_order_choose_the_rows(client) -> None:
    response = await client.get("/t/items.csv?status__exact=open&sort=-rank&size=5&page=2")
    rows = csv_rows(await response.text())[1:]
    wanted = sorted(
        (row for row in ITEMS if row["status"] == "open"),
        key=lambda row: (row["rank"], row["id"]),
        reverse=True,
    )
    assert [int(row[0]) for row in rows] == [row["id"] for row in wanted]  # no paging

    found = json.loads(await (await client.get("/t/items.json?q=cotton")).text())
    assert [row["name"] for row in found] == ["100% cotton"]
    none = await client.get("/t/items.json?qty__gt=1000")
    assert json.loads(await none.text()) == []
    empty_csv = csv_rows(await (await client.get("/t/items.csv?qty__gt=1000")).text())
    assert empty_csv == [VISIBLE]


async def test_the_table_page_links_its_view_to_both_downloads(client) -> None:
    body = await (await client.get("/t/items?status__exact=open&sort=-rank&size=5&page=2")).text()
    links = re.findall(r'<a href="(/t/items\.(?:csv|json)[^"]*)" download>', body)
    hrefs = sorted(href.replace("&amp;", "&") for href in links)
    assert hrefs == [
        "/t/items.csv?status__exact=open&sort=-rank",
        "/t/items.json?status__exact=open&sort=-rank",
    ]
    assert "Download the rows found" in body
    plain = await (await client.get("/t/items")).text()
    assert '<a href="/t/items.csv" download>CSV</a>' in plain
    assert "Download every row" in plain


@pytest.mark.parametrize(
    "path, status",
    [
        ("/t/items.csv?secret__exact=x", 400),
        ("/t/items.csv?sort=secret", 400),
        ("/t/items.json?price__gt=lots", 400),
        ("/t/items.csv?nope__exact=1", 400),
        ("/t/nothing.csv", 404),
        ("/t/items.xml", 404),
    ],
)
async def test_bad_requests_are_error_pages_not_downloads(client, path: str, status: int) -> None:
    response = await client.get(path)
    assert response.status == status
    assert response.content_type == "text/html"
    assert "Content-Disposition" not in response.headers


async def test_roles_hidden_columns_and_tables_stay_out(engine: AsyncEngine, make_client) -> None:
    await install(engine)
    rules = {
        "items": {"roles": {"viewer": {"hidden_columns": ["note", "secret"]}}},
        "owners": {"roles": {"viewer": {"hidden": True}}},
    }
    viewer = await make_client(role="viewer", tables=table_options(rules))
    body = await (await viewer.get("/t/items.csv")).text()
    assert csv_rows(body)[0] == [name for name in VISIBLE if name != "note"]
    assert "s3cr3t" not in body and "note 1" not in body
    assert (await viewer.get("/t/owners.json")).status == 404
    assert (await viewer.get("/t/items.csv?note__contains=1")).status == 400
    anonymous = await make_client(role=None)
    response = await anonymous.get("/t/items.csv", allow_redirects=False)
    assert response.status in (302, 303) and "/login" in response.headers["Location"]


async def test_rows_stream_in_batches(client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_view, "BATCH_ROWS", 7)
    seen: list[int] = []
    original = exports.ExportWriter.batch

    def counting(self, rows):
        seen.append(len(rows))
        return original(self, rows)

    monkeypatch.setattr(exports.ExportWriter, "batch", counting)
    data = json.loads(await (await client.get("/t/items.json")).text())
    assert [row["id"] for row in data] == [row["id"] for row in ITEMS]
    assert seen[:8] == [7] * 8 and sum(seen) == len(ITEMS)
    seen.clear()
    rows = csv_rows(await (await client.get("/t/items.csv?sort=-id")).text())
    assert [int(row[0]) for row in rows[1:]] == [row["id"] for row in reversed(ITEMS)]
    assert max(seen) == 7


async def test_a_failure_after_the_first_byte_cuts_the_download(
    own_client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Once the headers are sent no error page can follow: the connection is cut, so the
    client sees an incomplete download, never a short file that looks whole."""
    monkeypatch.setattr(export_view, "BATCH_ROWS", 10)
    calls = 0
    original = exports.ExportWriter.batch

    def failing(self, rows):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("disk on fire")
        return original(self, rows)

    monkeypatch.setattr(exports.ExportWriter, "batch", failing)
    response = await own_client.get("/t/items.csv")
    assert response.status == 200
    with caplog.at_level(logging.ERROR), pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    assert "failed after it began" in caplog.text
    after = await own_client.get("/t/items.json?qty__gt=1000")  # the app serves on
    assert after.status == 200 and json.loads(await after.text()) == []
    assert own_client.server.app[EXPENSIVE_QUERIES].taken == 0


async def test_head_sends_the_headers_only(client) -> None:
    response = await client.head("/t/items.csv")
    assert response.status == 200
    assert response.headers["Content-Disposition"].endswith("items.csv")
    assert await response.read() == b""


async def test_an_unreadable_value_is_exported_as_stored(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    await install_a_malformed_date(engine, backend)
    client = await make_client()
    rows = csv_rows(await (await client.get("/t/events.csv")).text())
    assert rows == [["id", "at", "label"], ["1", "", "good row"], ["2", "not a date", "bad row"]]
    data = json.loads(await (await client.get("/t/events.json")).text())
    assert data[1] == {"id": 2, "at": "not a date", "label": "bad row"}


async def test_every_demo_table_exports_every_row(engine: AsyncEngine, make_client) -> None:
    """Every type the demo holds (enums, JSON, binary, decimals, dates, a view, names that
    need quoting) comes out in both formats, one line or object per row."""
    await install_demo(engine, orders=30, size=SMALL_DEMO)
    client = await make_client()
    catalog = client.server.app[CATALOG]
    for info in catalog.tables.values():
        async with engine.connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(info.table))
        csv_response = await client.get(f"/t/{info.name}.csv")
        assert csv_response.status == 200, info.name
        rows = csv_rows(await csv_response.text())
        assert rows[0] == [column.name for column in info.columns]
        assert len(rows) == count + 1, info.name
        json_response = await client.get(f"/t/{info.name}.json")
        data = json.loads(await json_response.text())
        assert len(data) == count, info.name
        assert all(list(row) == rows[0] for row in data), info.name


@pytest.mark.parametrize(
    "value, is_bool, as_csv, as_json",
    [
        (None, False, "", None),
        ("", False, "", ""),
        (1, True, "true", True),
        (0, True, "false", False),
        (2, True, "2", 2),
        (float("nan"), False, "nan", "nan"),
        (float("inf"), False, "inf", "inf"),
        (1.5, False, "1.5", 1.5),
        (Decimal("10.000"), False, "10.000", "10.000"),
        (b"\x00\xff", False, "00ff", "00ff"),
        ({"a": [1, "é"]}, False, '{"a": [1, "é"]}', {"a": [1, "é"]}),
        ([1, 2], False, "[1, 2]", [1, 2]),
    ],
)
def test_value_forms(value: Any, is_bool: bool, as_csv: str, as_json: Any) -> None:
    assert csv_text(value, is_bool) == as_csv
    assert json_value(value, is_bool) == as_json


async def test_downloads_beyond_the_limit_wait_their_turn_with_a_503(own_client) -> None:
    """Each download holds a connection while it streams: past half the pool (at least
    one) a download is refused with Retry-After, and a finished or failed one frees its
    slot."""
    slots = own_client.server.app[EXPENSIVE_QUERIES]
    assert slots.limit == 2  # database.pool_size 5
    slots.taken = slots.limit
    refused = await own_client.get("/t/items.csv")
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "10"
    assert "2 searches or downloads are running already" in await refused.text()
    slots.taken = 0
    for _ in range(3):
        response = await own_client.get("/t/items.csv")
        assert response.status == 200
        await response.read()  # the download ends, and frees its slot, once it is read
    assert (await own_client.get("/t/items.csv?price__gt=x")).status == 400
    assert slots.taken == 0


async def test_a_client_that_leaves_frees_the_download_at_once(
    own_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancelled download stops writing, drops its connection (instead of reading the
    rest of the rows) and frees its slot; the app serves on."""
    monkeypatch.setattr(export_view, "BATCH_ROWS", 5)
    original = exports.ExportWriter.batch
    made: list[int] = []

    def bulky(self, rows):
        made.append(len(rows))
        return original(self, rows) + "x" * (2 << 20)  # more than any socket buffer holds

    monkeypatch.setattr(exports.ExportWriter, "batch", bulky)
    slots = own_client.server.app[EXPENSIVE_QUERIES]
    response = await own_client.get("/t/items.csv")
    assert response.status == 200
    await response.content.read(1 << 16)
    response.close()
    for _ in range(200):
        if slots.taken == 0:
            break
        await asyncio.sleep(0.05)
    assert slots.taken == 0
    assert len(made) < len(ITEMS) // 5  # it stopped writing
    monkeypatch.setattr(exports.ExportWriter, "batch", original)
    rows = csv_rows(await (await own_client.get("/t/items.csv")).text())
    assert len(rows) == len(ITEMS) + 1
