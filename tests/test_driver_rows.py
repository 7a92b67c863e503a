"""The table page's statement run straight on aiomysql (webapp/driver_rows.py) gives exactly
the page SQLAlchemy's ordinary execution gives, and steps aside whenever something watches
SQLAlchemy's statements."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp import driver_rows
from webapp.demo import install_demo
from webapp.keys import ENGINE

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
async def client(engine: AsyncEngine, make_client, backend: str):  # type: ignore[no-untyped-def]
    if backend != "mysql":
        pytest.skip("the direct path is aiomysql's")
    await install_demo(engine, orders=120)
    return await make_client()


def _watch(engine: AsyncEngine) -> list[str]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return statements


def _without_tokens(body: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", body)


async def test_direct_pages_equal_the_ordinary_ones_for_every_type(client) -> None:
    driver_rows._PREPARED.clear()
    direct = [await (await client.get(path)).text() for path in PAGES]
    assert driver_rows._PREPARED, "the pages did not take the direct path"
    app_engine = client.server.app[ENGINE]
    statements = _watch(app_engine)
    ordinary = [await (await client.get(path)).text() for path in PAGES]
    assert any("FROM books" in statement for statement in statements)
    for path, one, other in zip(PAGES, direct, ordinary, strict=True):
        assert _without_tokens(one) == _without_tokens(other), path
    assert "Rows 1–120 of 120" in direct[PAGES.index("/t/orders?size=200")]


async def test_a_watched_engine_sees_every_page_statement(client) -> None:
    statements = _watch(client.server.app[ENGINE])
    await client.get("/t/orders?size=5")
    assert sum("FROM orders" in statement for statement in statements) >= 1


async def test_each_request_gets_its_own_values(client) -> None:
    """One compiled shape, many requests: every request's values are its own."""
    paths = [f"/t/orders?size=5&status__exact={status}" for status in ("shipped", "pending")]
    paths += ["/t/orders?size=3", "/t/orders?size=4"]
    direct = [await (await client.get(path)).text() for path in paths]
    _watch(client.server.app[ENGINE])
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
    _watch(client.server.app[ENGINE])
    ordinary = await client.get("/t/orders?size=5")
    body = await direct.text()
    assert 'title="empty string"' in body
    assert _without_tokens(body) == _without_tokens(await ordinary.text())
