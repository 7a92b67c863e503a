"""The demo database: schema, data and idempotence on every backend.

The demo is what a newcomer sees first, so these tests check the things the browser relies on:
exact counts, intact foreign keys, the composite key, NULL versus empty string, unicode,
decimals and microseconds surviving the round trip, and identical data on every install.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from webapp.demo import DEMO_TABLES, DEMO_VIEWS, GENRES, ORDER_STATUSES, DemoBase, install_demo

ORDERS = 300
EXPECTED_COUNTS = {
    "my_table": 20,
    "authors": 200,
    "books": 2_000,
    "customers": 5_000,
    "orders": ORDERS,
}
# One order in five has 1-3 line items.
ORDERS_WITH_ITEMS = ORDERS // 5


def table(name: str) -> Table:
    return DemoBase.metadata.tables[name]


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            name: (await conn.execute(select(func.count()).select_from(table(name)))).scalar_one()
            for name in DEMO_TABLES
        }


async def scalar(engine: AsyncEngine, statement: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(statement)).scalar()


async def test_install_creates_tables_view_and_rows(engine: AsyncEngine) -> None:
    assert await install_demo(engine, orders=ORDERS) is True

    async with engine.connect() as conn:
        tables, views = await conn.run_sync(
            lambda c: (inspect(c).get_table_names(), inspect(c).get_view_names())
        )
    assert set(DEMO_TABLES) <= set(tables)
    assert set(DEMO_VIEWS) <= set(views)

    counts = await row_counts(engine)
    assert {name: counts[name] for name in EXPECTED_COUNTS} == EXPECTED_COUNTS
    assert ORDERS_WITH_ITEMS <= counts["order_items"] <= 3 * ORDERS_WITH_ITEMS

    items = table("order_items")
    async with engine.connect() as conn:
        per_order = (
            await conn.execute(
                select(
                    items.c.order_id,
                    func.count(),
                    func.min(items.c.line_no),
                    func.max(items.c.line_no),
                )
                .group_by(items.c.order_id)
                .order_by(items.c.order_id)
            )
        ).all()
    # Exactly the first fifth of the orders has lines, numbered 1..n without gaps.
    assert [row[0] for row in per_order] == list(range(1, ORDERS_WITH_ITEMS + 1))
    for _order_id, lines, first, last in per_order:
        assert 1 <= lines <= 3
        assert (first, last) == (1, lines)


async def test_foreign_keys_hold(engine: AsyncEngine) -> None:
    await install_demo(engine, orders=ORDERS)
    books, authors = table("books"), table("authors")
    orders, customers = table("orders"), table("customers")
    items = table("order_items")
    pairs = [
        (books.c.author_id, authors.c.id),
        (orders.c.customer_id, customers.c.id),
        (items.c.order_id, orders.c.id),
        (items.c.book_id, books.c.id),
    ]
    for child, parent in pairs:
        orphans = (
            select(func.count())
            .select_from(child.table.outerjoin(parent.table, child == parent))
            .where(parent.is_(None))
        )
        assert await scalar(engine, orphans) == 0, f"{child} has dangling references"


async def test_schema_details(engine: AsyncEngine) -> None:
    await install_demo(engine, orders=ORDERS)

    def describe(sync_conn: Any) -> dict[str, Any]:
        inspector = inspect(sync_conn)
        return {
            "items_pk": inspector.get_pk_constraint("order_items")["constrained_columns"],
            "books_fks": inspector.get_foreign_keys("books"),
            "books_unique": inspector.get_unique_constraints("books")
            + [i for i in inspector.get_indexes("books") if i["unique"]],
        }

    async with engine.connect() as conn:
        info = await conn.run_sync(describe)
    assert info["items_pk"] == ["order_id", "line_no"]
    [fk] = info["books_fks"]
    assert fk["referred_table"] == "authors"
    assert fk["constrained_columns"] == ["author_id"]
    assert any(u["column_names"] == ["isbn"] for u in info["books_unique"])


async def test_values_nulls_and_unicode(engine: AsyncEngine) -> None:
    await install_demo(engine, orders=ORDERS)
    authors, books, orders = table("authors"), table("books"), table("orders")
    async with engine.connect() as conn:
        bios = (await conn.execute(select(authors.c.biography))).scalars().all()
        photos = (
            (await conn.execute(select(authors.c.photo).where(authors.c.photo.is_not(None))))
            .scalars()
            .all()
        )
        author_names = set((await conn.execute(select(authors.c.name))).scalars())
        titles = set((await conn.execute(select(books.c.title))).scalars())
        genres = set((await conn.execute(select(books.c.genre))).scalars())
        statuses = set((await conn.execute(select(orders.c.status))).scalars())
        shipping = (await conn.execute(select(orders.c.shipping).limit(20))).scalars().all()
        tango = (
            await conn.execute(select(table("my_table").c.name).where(text("id = 20")))
        ).scalar_one()

    assert None in bios
    assert "" in bios
    assert any(bio and "\n\n" in bio and len(bio) > 500 for bio in bios)

    assert 0 < len(photos) < 20
    assert all(isinstance(photo, bytes) for photo in photos)
    assert any(b"\x00" in photo for photo in photos)

    assert {"村上 春樹", "Фёдор Достоевский", "Jostein 🌍 Gaarder"} <= author_names
    assert {"ノルウェイの森", "Cooking with 🍋 and 🧄", "Café Zürich"} <= titles
    assert tango == "tango ☕"

    assert genres <= set(GENRES)
    assert statuses <= set(ORDER_STATUSES)
    for value in shipping:
        assert isinstance(value, dict)
        assert {"city", "country", "postcode", "line1"} <= set(value["address"])


async def test_decimals_and_datetimes_round_trip(engine: AsyncEngine) -> None:
    await install_demo(engine, orders=ORDERS)
    orders, items, customers = table("orders"), table("order_items"), table("customers")
    async with engine.connect() as conn:
        totals = dict(
            (
                await conn.execute(
                    select(orders.c.id, orders.c.total).where(orders.c.id <= ORDERS_WITH_ITEMS)
                )
            ).all()
        )
        lines = (
            await conn.execute(select(items.c.order_id, items.c.quantity, items.c.unit_price))
        ).all()
        created = (await conn.execute(select(customers.c.created_at))).scalars().all()
        placed = (await conn.execute(select(orders.c.placed_at))).scalars().all()

    expected: dict[int, Decimal] = {}
    for order_id, quantity, unit_price in lines:
        assert isinstance(unit_price, Decimal)
        assert unit_price.as_tuple().exponent == -2
        expected[order_id] = expected.get(order_id, Decimal("0")) + unit_price * quantity
    # Totals of orders with lines are the exact sum of their lines, to the cent.
    assert all(isinstance(total, Decimal) for total in totals.values())
    assert totals == expected

    for values in (created, placed):
        assert all(isinstance(value, dt.datetime) and value.tzinfo is None for value in values)
        with_micros = sum(1 for value in values if value.microsecond)
        assert with_micros > 0.9 * len(values)
    assert placed == sorted(placed)


async def test_second_install_changes_nothing(engine: AsyncEngine) -> None:
    assert await install_demo(engine, orders=ORDERS) is True
    before = await row_counts(engine)
    assert await install_demo(engine, orders=ORDERS) is False
    assert await row_counts(engine) == before


async def test_new_rows_get_fresh_ids(engine: AsyncEngine) -> None:
    """Explicit ids must not leave a sequence behind (PostgreSQL) and break the next INSERT."""
    await install_demo(engine, orders=ORDERS)
    my_table, authors = table("my_table"), table("authors")
    async with engine.begin() as conn:
        new_id = (
            await conn.execute(insert(my_table).values(name="added").returning(my_table.c.id))
        ).scalar_one()
        author_id = (
            await conn.execute(insert(authors).values(name="New Author").returning(authors.c.id))
        ).scalar_one()
    assert new_id == EXPECTED_COUNTS["my_table"] + 1
    assert author_id == EXPECTED_COUNTS["authors"] + 1


async def test_view_aggregates_order_items(engine: AsyncEngine) -> None:
    await install_demo(engine, orders=ORDERS)
    async with engine.connect() as conn:
        view_rows = (
            await conn.execute(text("SELECT book_id, title, copies FROM book_sales"))
        ).all()
        sold = (
            await conn.execute(
                text("SELECT SUM(quantity), COUNT(DISTINCT book_id) FROM order_items")
            )
        ).one()
    assert len(view_rows) == sold[1]
    assert sum(int(row.copies) for row in view_rows) == int(sold[0])


def sample_statements() -> list[Any]:
    """Every row of the small tables and the first few hundred of the big ones, in key order."""
    statements = []
    for name in DEMO_TABLES:
        t = table(name)
        statements.append(select(t).order_by(*t.primary_key.columns).limit(600))
    return statements


async def fetch_sample(engine: AsyncEngine) -> list[list[tuple[Any, ...]]]:
    async with engine.connect() as conn:
        return [
            [tuple(row) for row in (await conn.execute(statement)).all()]
            for statement in sample_statements()
        ]


async def test_data_is_deterministic(engine: AsyncEngine, tmp_path: Path) -> None:
    """A second install into a separate SQLite file gives the same rows as this backend."""
    reference = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'reference.db'}")
    try:
        await install_demo(reference, orders=ORDERS)
        await install_demo(engine, orders=ORDERS)
        expected = await fetch_sample(reference)
        actual = await fetch_sample(engine)
    finally:
        await reference.dispose()
    for name, want, got in zip(DEMO_TABLES, expected, actual, strict=True):
        assert got == want, f"{name} differs"


async def test_installing_says_what_it_is_doing(engine: AsyncEngine) -> None:
    lines: list[str] = []
    assert await install_demo(engine, orders=ORDERS, progress=lines.append) is True
    assert lines[0] == f"building the demo database ({ORDERS:,} orders; first start only)"
    orders_lines = [line for line in lines if line.endswith(" orders")]
    assert orders_lines[-1] == f"demo: {ORDERS:,} of {ORDERS:,} orders"
    assert 1 <= len(orders_lines) <= 4
    assert re.fullmatch(r"demo database ready in \d+\.\d s", lines[-1])
    lines.clear()
    assert await install_demo(engine, orders=ORDERS, progress=lines.append) is False
    assert lines == []  # an existing demo: nothing to say
