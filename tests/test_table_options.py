"""Per-table options from config.yaml: checked for shape when settings load, checked against
the database at startup, and honoured by every page on every backend."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import ITEMS, install, items, startup_error
from tests.helpers import link, page_ids, run_main, write_config
from webapp.settings import SettingsError, load_settings, table_options
from webapp.web.appkeys import CATALOG, READ_ENGINE


async def ids(response) -> list[int]:
    assert response.status == 200
    return page_ids(await response.text())


async def start(engine: AsyncEngine, make_client, options: dict, **changes):
    await install(engine)
    return await make_client(tables=table_options(options), **changes)


@pytest.fixture(scope="module")
async def start_shared(module_engine: AsyncEngine, module_client):
    """`await start_shared(options)`: like `start`, on the module's database, shared by the
    tests that only read."""
    await install(module_engine)

    async def start_(options: dict, **changes):
        return await module_client(tables=table_options(options), **changes)

    return start_


async def test_hidden_columns_never_appear_or_work(
    start_shared, module_engine: AsyncEngine
) -> None:
    client = await start_shared(
        {"items": {"hidden_columns": ["secret"]}, "owners": {"hidden_columns": ["secret"]}},
    )
    for path in ("/t/items?size=500", "/t/items/r/3", "/t/owners", "/t/owners/r/2"):
        body = await (await client.get(path)).text()
        assert "secret" not in body and "s3cr3t" not in body, path
    for query, message in [
        ("secret__exact=s3cr3t-1", "no such column"),
        ("secret__isnull=1", "no such column"),
        ("sort=secret", "no such sortable column"),
        ("sort=-secret", "no such sortable column"),
    ]:
        response = await client.get(f"/t/items?{query}")
        assert response.status == 400, query
        assert message in await response.text()
    assert await ids(await client.get("/t/items?q=s3cr3t")) == []
    assert (await client.get("/t/items/r/3/raw/secret")).status == 404
    async with module_engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(items)) == 60


async def test_listed_columns_in_order_with_labels_and_links(start_shared) -> None:
    client = await start_shared({"items": {"columns": ["name", "owner_id", "rank"]}})
    body = await (await client.get("/t/items")).text()
    # Each heading shows the column's title; its tooltip starts with the raw name.
    headings = re.findall(r'<th[^>]*><a href="[^"]*" title="(\w+) · [^"]*">([^<]+)</a>', body)
    assert headings == [("name", "Name"), ("owner_id", "Owner"), ("rank", "Rank")]
    assert '">Owner 2</a> <span class="fk-key">' in body
    assert 'href="/t/items/r/1"' in body  # the key still makes each row's link
    record = await (await client.get("/t/items/r/1")).text()
    assert '<th scope="row">price' in record  # the record page shows every visible column


async def test_page_size_and_default_sort(start_shared) -> None:
    client = await start_shared({"items": {"page_size": 7, "sort": "-rank"}})
    body = await (await client.get("/t/items")).text()
    expected = [r["id"] for r in sorted(ITEMS, key=lambda r: (r["rank"], r["id"]), reverse=True)]
    assert page_ids(body) == expected[:7]
    assert 'class="sorted-desc"' in body
    href = link(body, "next")
    assert "sort=" not in href and "size=" not in href and "cursor=" in href
    assert await ids(await client.get(href)) == expected[7:14]
    ascending = await (await client.get("/t/items?sort=rank")).text()
    assert page_ids(ascending) == sorted(expected, key=lambda i: (i // 3, i))[:7]


async def test_search_and_label_columns(start_shared) -> None:
    client = await start_shared(
        {"items": {"search_columns": ["code"]}, "owners": {"label_column": "secret"}},
    )
    assert await ids(await client.get("/t/items?q=Item&size=500")) == []
    found = await ids(await client.get("/t/items?q=c1&size=500"))
    assert found == [r["id"] for r in ITEMS if r["code"] == "C1"]
    body = await (await client.get("/t/items")).text()
    assert '">owner-secret-2</a> <span class="fk-key">' in body


async def test_hidden_table_is_nowhere(start_shared) -> None:
    client = await start_shared({"owners": {"hidden": True}})
    assert (await client.get("/t/owners")).status == 404
    assert (await client.get("/t/owners/r/1")).status == 404
    index = await (await client.get("/")).text()
    assert "/t/owners" not in index and "/t/items" in index
    body = await (await client.get("/t/items")).text()
    assert "/t/owners" not in body and "Owner 2" not in body


async def test_read_only_table_says_why(start_shared) -> None:
    client = await start_shared({"items": {"read_only": True}})
    catalog = client.server.app[CATALOG]
    assert catalog.tables["items"].read_only_reason == "This table is configured as read-only."
    assert catalog.tables["owners"].read_only_reason is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nope": {}}, "tables.nope: there is no table or view named 'nope'"),
        ({"items": {"columns": ["name", "nope"]}}, "tables.items.columns: 'items' has no column"),
        ({"items": {"hidden_columns": ["nope"]}}, "tables.items.hidden_columns: 'items' has no"),
        ({"items": {"search_columns": ["nope"]}}, "tables.items.search_columns: 'items' has no"),
        ({"items": {"facet_columns": ["nope"]}}, "tables.items.facet_columns: 'items' has no"),
        ({"items": {"label_column": "nope"}}, "tables.items.label_column: 'items' has no"),
        ({"items": {"sort": "-nope"}}, "tables.items.sort: 'items' has no column 'nope'"),
        ({"items": {"hidden_columns": ["id"]}}, "'id' is part of the primary key"),
        (
            {"items": {"hidden_columns": ["secret"], "columns": ["secret"]}},
            "tables.items.columns: 'secret' is a hidden column",
        ),
        (
            {"items": {"hidden_columns": ["secret"], "sort": "secret"}},
            "tables.items.sort: 'secret' is a hidden column",
        ),
        ({"items": {"search_columns": ["qty"]}}, "search_columns: 'qty' is not a text column"),
        ({"items": {"label_column": "rank"}}, "label_column: 'rank' is not a text column"),
    ],
)
async def test_options_naming_what_the_database_lacks_stop_startup(
    engine: AsyncEngine, db_url: str, options: dict, message: str
) -> None:
    error = await startup_error(engine, db_url, options)
    assert message in error
    assert "\n" not in error


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tables: [a]", "tables must be a mapping of table name to options"),
        ("tables:\n  t: 3", "tables.t must be a mapping of options"),
        ("tables:\n  t:\n    colour: red", "unknown setting tables.t.colour"),
        ("tables:\n  t:\n    columns: name", "tables.t.columns must be a list of column names"),
        ("tables:\n  t:\n    hidden_columns: [a, a]", "tables.t.hidden_columns names 'a' more"),
        ("tables:\n  t:\n    page_size: 0", "tables.t.page_size must be a whole number"),
        ("tables:\n  t:\n    page_size: 9999", "tables.t.page_size must be a whole number"),
        ("tables:\n  t:\n    read_only: perhaps", "tables.t.read_only must be true or false"),
        ("tables:\n  t:\n    hidden: 2", "tables.t.hidden must be true or false"),
        ("tables:\n  t:\n    sort: '-'", "tables.t.sort must be a column name"),
        ("tables:\n  t:\n    label_column: [a]", "tables.t.label_column must be a column name"),
    ],
)
def test_table_option_mistakes_are_one_clear_message(
    tmp_path: Path, body: str, message: str
) -> None:
    path = write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///a.db\n" + body + "\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, {})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_table_options_load_typed(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "database:\n  url: sqlite+aiosqlite:///a.db\ntables:\n  items:\n"
        "    columns: [name, rank]\n    hidden_columns: [secret]\n    page_size: 20\n"
        "    sort: -rank\n    read_only: true\n  owners:\n",
    )
    tables = load_settings(path, {}).tables
    assert tables["items"].columns == ("name", "rank")
    assert tables["items"].hidden_columns == frozenset({"secret"})
    assert (tables["items"].page_size, tables["items"].sort) == (20, "-rank")
    assert tables["items"].read_only is True and tables["owners"].hidden is False


def test_cli_unknown_table_column_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "a.db") as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    path = write_config(
        tmp_path,
        "database:\n  url: sqlite+aiosqlite:///a.db\ntables:\n  t:\n    columns: [name, nope]\n",
    )
    result = run_main("--config", str(path), "--port", "0")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("webapp:")]
    assert lines == ["webapp: error: config: tables.t.columns: 't' has no column 'nope'"]
    assert "Traceback" not in result.stderr


async def test_mysql_fulltext_index_answers_the_search(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    if backend != "mysql":
        pytest.skip("FULLTEXT indexes are MySQL's")
    await install(engine)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE FULLTEXT INDEX ft_items ON items (name, note)"))
    client = await make_client()
    statements: list[str] = []

    sync_engine = client.server.app[READ_ENGINE].sync_engine
    event.listen(sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    body = await (await client.get("/t/items?q=cotton")).text()
    assert page_ids(body) == [7]
    assert any("MATCH (items.name, items.note) AGAINST" in s for s in statements)
    assert await ids(await client.get("/t/items?q=note+4")) == [4, *range(40, 50)]
