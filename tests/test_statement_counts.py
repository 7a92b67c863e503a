"""Every page kind runs a fixed number of statements: the same for a page of 10 rows as for
100, and for a table of a few rows as for one of hundreds. Counted with a
`before_cursor_execute` listener on the app's engines, on every backend; the numbers are
the pages' budgets, so a change that adds a statement to a page has to say so here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.web.appkeys import ENGINE, READ_ENGINE

SIZES = {"few": 12, "many": 400}  # rows of the two tables of the same shape


def schema(metadata: MetaData) -> None:
    Table(
        "owners",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(40), nullable=False),
    )
    for name in SIZES:
        Table(
            name,
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("owner_id", ForeignKey("owners.id"), nullable=False),
            Column("name", String(40), nullable=False),
            Column("status", String(10), nullable=False),
        )
        Table(
            f"{name}_notes",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("item_id", ForeignKey(f"{name}.id"), nullable=False, index=True),
            Column("body", String(40), nullable=False),
        )


@pytest.fixture(scope="module")
async def arranged(module_engine: AsyncEngine) -> AsyncEngine:
    metadata = MetaData()
    schema(metadata)
    async with module_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        owners = metadata.tables["owners"]
        await conn.execute(insert(owners), [{"id": i, "name": f"Owner {i}"} for i in range(1, 6)])
        for name, rows in SIZES.items():
            await conn.execute(
                insert(metadata.tables[name]),
                [
                    {
                        "id": i,
                        "owner_id": i % 5 + 1,
                        "name": f"Item {i:04}",
                        "status": ("new", "old")[i % 2],
                    }
                    for i in range(1, rows + 1)
                ],
            )
            await conn.execute(
                insert(metadata.tables[f"{name}_notes"]),
                [{"id": i, "item_id": 1 + i % 3, "body": f"Note {i}"} for i in range(1, 8)],
            )
    return module_engine


@contextlib.contextmanager
def counting(app: Any) -> Iterator[list[str]]:
    """The statements the app's engines run inside the block."""
    statements: list[str] = []
    engines = {id(app[key].sync_engine): app[key].sync_engine for key in (ENGINE, READ_ENGINE)}

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", seen)


async def statements_of(client: Any, path: str) -> list[str]:
    """The statements of `path` once the caches are warm (it is fetched once before)."""
    assert (await client.get(path)).status == 200
    with counting(client.server.app) as statements:
        response = await client.get(path)
        assert response.status == 200, await response.text()
    return statements


PAGES = {
    "table": "/t/{table}?size={size}",
    "search": "/t/{table}?size={size}&q=Item",
    "record": "/t/{table}/r/3",
    "edit form": "/t/{table}/r/3/edit",
}

# Statements per page once its caches are warm. SQLite's reads begin with BEGIN (the read
# engine starts each transaction itself); a search on a server runs under a time limit set
# and put back around it (two statements on MariaDB and PostgreSQL).
BUDGETS = {
    "table": {"sqlite": 2, "mysql": 1, "postgresql": 1},
    "search": {"sqlite": 2, "mysql": 3, "postgresql": 3},
    "record": {"sqlite": 3, "mysql": 2, "postgresql": 2},
    "edit form": {"sqlite": 3, "mysql": 2, "postgresql": 2},
}


@pytest.mark.parametrize("kind", list(PAGES))
async def test_each_page_kind_runs_a_fixed_number_of_statements(
    arranged: AsyncEngine, module_client, backend: str, kind: str
) -> None:
    client = await module_client()
    counts = {}
    for table in SIZES:
        for size in (10, 100):
            path = PAGES[kind].format(table=table, size=size)
            counts[table, size] = len(await statements_of(client, path))
    assert set(counts.values()) == {BUDGETS[kind][backend]}, counts


async def test_the_record_page_fetches_row_labels_and_history_in_one_statement(
    arranged: AsyncEngine, module_client
) -> None:
    client = await module_client()
    statements = await statements_of(client, "/t/many/r/3")
    row = [s for s in statements if "FROM many" in s and "owners" in s]
    assert len(row) == 1 and "webapp_audit_log" in row[0]
    html = await (await client.get("/t/many/r/3")).text()
    assert "Owner 4" in html  # the owner's label, fetched with the row
    assert "/t/many_notes/r/2" in html and "/t/many_notes/r/5" in html  # referencing rows


async def test_cached_facets_are_reused_and_forgotten_after_a_write(
    make_client, engine: AsyncEngine, open_form
) -> None:
    metadata = MetaData()
    schema(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(metadata.tables["owners"]), [{"id": 1, "name": "Ann"}])
        await conn.execute(
            insert(metadata.tables["few"]),
            [{"id": 1, "owner_id": 1, "name": "One", "status": "new"}],
        )
    client = await make_client()
    app = client.server.app
    with counting(app) as first:
        html = await (await client.get("/t/few")).text()
    assert 'class="facet' in html
    with counting(app) as again:
        assert await (await client.get("/t/few")).text() == html
    assert any("GROUP BY" in s for s in first)
    assert not any("GROUP BY" in s for s in again)
    form = await open_form(client, "/t/few/r/1/edit")
    form.set("name", "Uno")
    assert (await form.submit(client)).status == 303
    with counting(app) as after_write:
        assert (await client.get("/t/few")).status == 200
    assert any("GROUP BY" in s for s in after_write)
