"""Names and values that break naive code: reserved words, spaces, case, unicode, quotes,
braces, slashes, percent signs, dots, and hostile HTML; on every backend."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import quote

import pytest
from markupsafe import escape
from sqlalchemy import Column, ForeignKeyConstraint, Integer, MetaData, String, Table, Text, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.urls import export_url, record_url, table_url

AWKWARD_TABLES = [
    "select",
    "my table",
    "MixedCase",
    "ünïcødé 表",
    "quo\"te's",
    "br{ace}s",
    "sl/ash",
    "per%cent",
    "do.t",
    "<script>alert(1)</script>",
]
KEY_VALUES = ["a/b", "with space", "ünï 表 😀", "50%", "x,y", "~tilde", "a.b", "<b>x</b>", "&amp;"]
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
async def awkward(engine: AsyncEngine) -> MetaData:
    metadata = MetaData()
    for name in AWKWARD_TABLES:
        Table(
            name,
            metadata,
            Column("order", String(50), primary_key=True),
            Column("Group Name", String(50), primary_key=True),
            Column("näme/%.{x}", Text),
        )
    Table(
        "child of select",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("parent order", String(50)),
        Column("parent group", String(50)),
        ForeignKeyConstraint(
            ["parent order", "parent group"], ["select.order", "select.Group Name"]
        ),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for name in AWKWARD_TABLES:
            rows = [
                {"order": value, "Group Name": f"g {index}", "näme/%.{x}": HOSTILE}
                for index, value in enumerate(KEY_VALUES)
            ]
            await conn.execute(insert(metadata.tables[name]), rows)
        await conn.execute(
            insert(metadata.tables["child of select"]),
            [{"id": 1, "parent order": "a/b", "parent group": "g 0"}],
        )
    return metadata


async def test_index_links_every_awkward_table(awkward, make_client) -> None:
    client = await make_client()
    body = await (await client.get("/")).text()
    for name in AWKWARD_TABLES:
        assert f'href="{table_url(name)}">{escape(name)}</a>' in body
    assert "<script>alert(1)</script>" not in body


@pytest.mark.parametrize("name", AWKWARD_TABLES)
async def test_table_page_and_every_record_page_work(awkward, make_client, name: str) -> None:
    client = await make_client()
    response = await client.get(table_url(name))
    assert response.status == 200
    body = await response.text()
    assert HOSTILE not in body and escape(HOSTILE) in body
    assert escape("näme/%.{x}") in body
    for index, value in enumerate(KEY_VALUES):
        url = record_url(name, [value, f"g {index}"])
        assert f'href="{url}"' in body
        record = await client.get(url)
        assert record.status == 200, (name, value)
        text = await record.text()
        assert escape(value) in text
        assert HOSTILE not in text


async def test_sorting_by_awkward_column_names(awkward, make_client) -> None:
    client = await make_client()
    response = await client.get(table_url("select", sort="-Group Name"))
    assert response.status == 200
    body = await response.text()
    groups = re.findall(r"<td>(g \d)</td>", body)
    assert groups == sorted(groups, reverse=True) and len(groups) == len(KEY_VALUES)


async def test_composite_foreign_key_links_across_awkward_names(awkward, make_client) -> None:
    client = await make_client()
    body = await (await client.get(table_url("child of select"))).text()
    assert f'href="{record_url("select", ["a/b", "g 0"])}"' in body
    parent = await (await client.get(record_url("select", ["a/b", "g 0"]))).text()
    assert "Referenced by" in parent
    assert f'href="{record_url("child of select", ["1"])}"' in parent


async def test_percent_encoded_and_mangled_urls_are_404(awkward, make_client) -> None:
    client = await make_client()
    assert (await client.get("/t/sl%2Fash")).status == 404
    assert (await client.get(table_url("select") + "/r/a~2Fb")).status == 404
    assert (await client.get(table_url("select") + "/r/a~2Fb,g+0,extra")).status == 404


async def test_every_awkward_table_downloads_under_its_own_name(awkward, make_client) -> None:
    """The download links (`/t/<encoded name>.csv`) of tables whose names hold dots,
    slashes, quotes and unicode reach their own table, filtered and sorted by awkward
    column names, and the file is named after the table."""
    client = await make_client()
    for name in AWKWARD_TABLES:
        page = await (await client.get(table_url(name, sort="-Group Name"))).text()
        href = re.search(r'<a href="([^"]+)" download>CSV</a>', page).group(1)
        assert href == export_url(name, "csv", [("sort", "-Group Name")])
        response = await client.get(href.replace("&amp;", "&"))
        assert response.status == 200, name
        assert response.headers["Content-Disposition"] == (
            "attachment; filename*=UTF-8''" + quote(f"{name}.csv", safe="")
        )
        rows = list(csv.reader(io.StringIO(await response.text())))
        assert rows[0] == ["order", "Group Name", "näme/%.{x}"]
        assert [row[1] for row in rows[1:]] == sorted(
            (f"g {index}" for index in range(len(KEY_VALUES))), reverse=True
        )
        assert rows[1][2] == HOSTILE  # a file, not a page: the value as stored
    filtered = await client.get(export_url("do.t", "json", [("näme/%.{x}__contains", "<img")]))
    assert len(json.loads(await filtered.text())) == len(KEY_VALUES)
