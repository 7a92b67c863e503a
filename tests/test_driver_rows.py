"""The table page's statement run straight on aiomysql (webapp/database/driver_rows.py) gives
exactly the page SQLAlchemy's ordinary execution gives, and steps aside whenever something watches
SQLAlchemy's statements."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.database import driver_rows
from webapp.demo import install_demo
from webapp.web.appkeys import READ_ENGINE

PAGES = [
    "/t/my_table?size=200",
    "/t/authors?size=200",
    "/t/books?size=200",
    "/t/books?size=7&sort=-title",
    "/t/customers?size=200",
    "/t/orders?size=200",
    "/t/orders?size=20&status__exact=shipped&sort=-id",
    "/t/order_items?size=200",
    "/t/book_sales?size=200",
]


@pytest.fixture
async def client(engine: AsyncEngine, make_client, backend: str):
    if backend != "mysql":
        pytest.skip("the direct path is aiomysql's")
    await install_demo(engine, orders=120)
    return await make_client()


def _watch(engine: AsyncEngine) -> list[str]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return statements


def _without_tokens(body: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", body)


async def test_direct_pages_equal_the_ordinary_ones_for_every_type(client) -> None:
    driver_rows._PREPARED.clear()
    direct = [await (await client.get(path)).text() for path in PAGES]
    assert driver_rows._PREPARED, "the pages did not take the direct path"
    app_engine = client.server.app[READ_ENGINE]
    statements = _watch(app_engine)
    ordinary = [await (await client.get(path)).text() for path in PAGES]
    assert any("FROM books" in statement for statement in statements)
    for path, one, other in zip(PAGES, direct, ordinary, strict=True):
        assert _without_tokens(one) == _without_tokens(other), path
    assert "Rows 1–120 of 120" in direct[PAGES.index("/t/orders?size=200")]


async def test_a_watched_engine_sees_every_page_statement(client) -> None:
    statements = _watch(client.server.app[READ_ENGINE])
    await client.get("/t/orders?size=5")
    assert sum("FROM orders" in statement for statement in statements) >= 1


async def test_each_request_gets_its_own_values(client) -> None:
    """One compiled shape, many requests: every request's values are its own."""
    paths = [f"/t/orders?size=5&status__exact={status}" for status in ("shipped", "pending")]
    paths += ["/t/orders?size=3", "/t/orders?size=4"]
    direct = [await (await client.get(path)).text() for path in paths]
    _watch(client.server.app[READ_ENGINE])
    for path, body in zip(paths, direct, strict=True):
        ordinary = await (await client.get(path)).text()
        assert _without_tokens(body) == _without_tokens(ordinary), path


async def test_a_value_outside_the_enum_reads_as_it_is(client, engine: AsyncEngine) -> None:
    """MariaDB stores '' for an ENUM value it was refused (strict mode off): both paths show
    the empty value, neither fails."""
    async with engine.begin() as conn:
        await conn.execute(text("SET SESSION sql_mode = ''"))
        await conn.execute(text("UPDATE orders SET status = 'no such status' WHERE id = 1"))
    direct = await client.get("/t/orders?size=5")
    assert direct.status == 200
    _watch(client.server.app[READ_ENGINE])
    ordinary = await client.get("/t/orders?size=5")
    body = await direct.text()
    assert 'title="empty string"' in body
    assert _without_tokens(body) == _without_tokens(await ordinary.text())


async def test_dates_the_database_writes_read_as_python_writes_them(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    """A DATE or whole-second DATETIME/TIMESTAMP is listed as the text MySQL writes (no
    parsing in the driver), the same text the record page shows; a DATETIME with fractional
    seconds is read as a datetime."""
    if backend != "mysql":
        pytest.skip("dates as the database's text are MySQL's")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE moments (id INT PRIMARY KEY, d DATE, dt DATETIME, "
                "ts TIMESTAMP NULL, dt3 DATETIME(3))"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO moments VALUES (1, '2024-02-29', '2024-05-01 13:45:00', "
                "'2024-05-01 13:45:07', '2024-05-01 13:45:00.250'), "
                "(2, NULL, NULL, NULL, '2024-05-01 13:45:00.000')"
            )
        )
    client = await make_client()
    body = await (await client.get("/t/moments")).text()
    # Each row's cells, less the box that chooses it for a bulk change.
    cells = [cell for cell in re.findall(r"<td[^>]*>(.*?)</td>", body) if "checkbox" not in cell]
    assert cells[:5] == [
        '<a href="/t/moments/r/1">1</a>',
        "2024-02-29",
        "2024-05-01 13:45:00",
        "2024-05-01 13:45:07",
        "2024-05-01 13:45:00.250000",
    ]
    assert '<td class="d">2024-02-29</td>' in body
    assert cells[6:9] == ['<span class="null">NULL</span>'] * 3
    record = await (await client.get("/t/moments/r/1")).text()
    for value in cells[1:5]:
        assert f">{value}</td>" in record
