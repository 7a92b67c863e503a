"""Names and values that break naive code: reserved words, spaces (leading and trailing),
case, unicode, quotes, backticks, braces, slashes, percent signs, dots, colons, hostile HTML
and the longest names each backend allows; on every backend."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import quote

import pytest
from markupsafe import escape
from sqlalchemy import (
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.web.appkeys import CATALOG
from webapp.web.urls import export_url, record_url, table_url

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


@pytest.fixture(scope="module")
async def awkward(module_engine: AsyncEngine) -> MetaData:
    """Tables with awkward names on the module's database, shared by tests that only read."""
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
    async with module_engine.begin() as conn:
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


async def test_index_links_every_awkward_table(awkward, module_client) -> None:
    client = await module_client()
    body = await (await client.get("/")).text()
    for name in AWKWARD_TABLES:
        assert f'href="{table_url(name)}">{escape(name)}</a>' in body
    assert "<script>alert(1)</script>" not in body


@pytest.mark.parametrize("name", AWKWARD_TABLES)
async def test_table_page_and_every_record_page_work(awkward, module_client, name: str) -> None:
    client = await module_client()
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


async def test_sorting_by_awkward_column_names(awkward, module_client) -> None:
    client = await module_client()
    response = await client.get(table_url("select", sort="-Group Name"))
    assert response.status == 200
    body = await response.text()
    groups = re.findall(r"<td>(g \d)</td>", body)
    assert groups == sorted(groups, reverse=True) and len(groups) == len(KEY_VALUES)


async def test_composite_foreign_key_links_across_awkward_names(awkward, module_client) -> None:
    client = await module_client()
    body = await (await client.get(table_url("child of select"))).text()
    assert f'href="{record_url("select", ["a/b", "g 0"])}"' in body
    parent = await (await client.get(record_url("select", ["a/b", "g 0"]))).text()
    assert "Referenced by" in parent
    assert f'href="{record_url("child of select", ["1"])}"' in parent


async def test_percent_encoded_and_mangled_urls_are_404(awkward, module_client) -> None:
    client = await module_client()
    assert (await client.get("/t/sl%2Fash")).status == 404
    assert (await client.get(table_url("select") + "/r/a~2Fb")).status == 404
    assert (await client.get(table_url("select") + "/r/a~2Fb,g+0,extra")).status == 404


async def test_every_awkward_table_downloads_under_its_own_name(awkward, module_client) -> None:
    """The download links (`/t/<encoded name>.csv`) of tables whose names hold dots,
    slashes, quotes and unicode reach their own table, filtered and sorted by awkward
    column names, and the file is named after the table."""
    client = await module_client()
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


# --- every kind of awkward column name, and the longest names each backend allows ---------

# Characters each backend stores in a name as given. MySQL refuses a name ending in a space
# and characters outside the Basic Multilingual Plane (an emoji) in names.
AWKWARD_COLUMNS = [
    'quo"te',
    "it's",
    "back`tick",
    "two``ticks",
    "`",
    " leading space",
    "per%cent",
    "sl/ash",
    "do.t",
    "select",
    "from",
    "ünïcødé 表",
    "comma,here",
    "tilde~7E",
    "colon:x",
    "<b>bold</b>",
]
# The longest name each backend keeps whole (PostgreSQL counts bytes, MySQL characters).
LONGEST = {"sqlite": 300, "mysql": 64, "postgresql": 63}


def columns_for(backend: str) -> list[str]:
    names = list(AWKWARD_COLUMNS)
    if backend != "mysql":
        names.extend(["trailing space ", "emoji 😀"])
    limit = LONGEST[backend]
    names.append("ü" * (limit // 2) + "x" * (limit % 2) if backend == "postgresql" else "ü" * limit)
    return names


def value_of(name: str, row: int | str) -> str:
    """A value that says which column and row it is in, short enough for String(60)."""
    return f"{name[:40]} {row}"


def tables_for(backend: str) -> list[str]:
    names = ["back`tick table", " leading", "col:on", "t" * LONGEST[backend]]
    if backend != "mysql":
        names.append("trailing ")
    return names


@pytest.fixture
async def named(engine: AsyncEngine, backend: str) -> MetaData:
    metadata = MetaData()
    for table_name in tables_for(backend):
        Table(
            table_name,
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            *(Column(name, String(60)) for name in columns_for(backend)),
        )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for table in metadata.tables.values():
            names = columns_for(backend)
            rows = [{"id": n, **{name: value_of(name, n) for name in names}} for n in (1, 2)]
            await conn.execute(insert(table), rows)
    return metadata


async def stored(engine: AsyncEngine, table: Table) -> list[dict]:
    async with engine.connect() as conn:
        result = await conn.execute(select(table).order_by(table.c.id))
        return [dict(row._mapping) for row in result]


async def test_reflection_keeps_every_name_as_created(named, make_client, backend) -> None:
    """MySQL reports a backtick in a name doubled; the catalog holds the real name."""
    client = await make_client()
    catalog = client.server.app[CATALOG]
    for table_name in tables_for(backend):
        info = catalog.tables[table_name]
        assert [column.name for column in info.columns] == ["id", *columns_for(backend)]
    assert not catalog.unreadable


async def test_pages_list_sort_and_filter_every_awkward_column(named, make_client, backend) -> None:
    client = await make_client()
    index = await (await client.get("/")).text()
    for table_name in tables_for(backend):
        assert f'href="{table_url(table_name)}">{escape(table_name)}</a>' in index
        page = await client.get(table_url(table_name))
        assert page.status == 200, table_name
        body = await page.text()
        for name in columns_for(backend):
            assert str(escape(value_of(name, 2))) in body, name
        for name in columns_for(backend):
            ordered = await client.get(table_url(table_name, sort=f"-{name}"))
            assert ordered.status == 200, name
            found = re.findall(r'href="[^"]*/r/(\d)"', await ordered.text())
            assert found[0] == "2", name
            exact = [(f"{name}__exact", value_of(name, 1))]
            filtered = await client.get(table_url(table_name, exact))
            assert filtered.status == 200, name
            assert re.findall(r'href="[^"]*/r/(\d)"', await filtered.text()) == ["1"], name


async def test_records_of_awkward_columns_save_create_and_download(
    named, make_client, open_form, engine: AsyncEngine, backend
) -> None:
    client = await make_client()
    names = columns_for(backend)
    for table_name in tables_for(backend):
        table = named.tables[table_name]
        before = await stored(engine, table)
        record = await client.get(record_url(table_name, ["1"]))
        assert record.status == 200, table_name
        form = await open_form(client, record_url(table_name, ["1"]) + "/edit")
        response = await form.submit(client)
        assert response.status == 303, await response.text()
        assert await stored(engine, table) == before  # an unchanged save changes nothing
        form = await open_form(client, record_url(table_name, ["1"]) + "/edit")
        for name in names:
            form.set(name.strip(), value_of(name, "new"))
        response = await form.submit(client)
        assert response.status == 303, await response.text()
        after = await stored(engine, table)
        assert after[0] == {"id": 1, **{name: value_of(name, "new") for name in names}}
        assert after[1] == before[1]
        form = await open_form(client, f"{table_url(table_name)}/new")
        form.set("id", "3")
        form.set(names[0].strip(), "created")
        response = await form.submit(client)
        assert response.status == 303, await response.text()
        assert (await stored(engine, table))[2][names[0]] == "created"
        download = await client.get(export_url(table_name, "csv"))
        assert download.status == 200
        rows = list(csv.reader(io.StringIO(await download.text())))
        assert rows[0] == ["id", *names]
        assert rows[2] == ["2", *(value_of(name, 2) for name in names)]


async def test_foreign_keys_between_backticked_names_link_with_labels(
    engine: AsyncEngine, make_client
) -> None:
    """MySQL reports the referenced column's name with its backtick doubled too, and
    SQLAlchemy's reader of its table definitions skips a reference to a backticked table."""
    metadata = MetaData()
    parent = Table(
        "par`ent",
        metadata,
        Column("k`ey", String(20), primary_key=True),
        Column("na`me", String(20)),
    )
    child = Table(
        "ch`ild",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("re`f", String(20), ForeignKey(parent.c["k`ey"])),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(parent), [{"k`ey": "a`b", "na`me": "the `parent`"}])
        await conn.execute(insert(child), [{"id": 1, "re`f": "a`b"}])
    client = await make_client()
    body = await (await client.get(table_url("ch`ild"))).text()
    assert f'<a href="{record_url("par`ent", ["a`b"])}">the `parent`</a>' in body
    record = await (await client.get(record_url("par`ent", ["a`b"]))).text()
    assert f'href="{record_url("ch`ild", ["1"])}"' in record
