"""A small schema made to exercise finding records: every filterable type family, ties in an
indexed sort column, a foreign key with labels, text with LIKE wildcards, and a column to
hide. The expected answers are computed in Python from the same rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.app import create_app
from webapp.database.engine import StartupError
from webapp.settings import settings_for_url, table_options

STATUSES = ("new", "open", "closed")
SPECIAL_NAMES = {7: "100% cotton", 8: "a_b thing", 9: "plain ab thing"}

metadata = MetaData()
owners = Table(
    "owners",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(50), nullable=False),
    Column("secret", String(50)),
)
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("owner_id", Integer, ForeignKey("owners.id"), nullable=True),
    Column("name", String(100), nullable=False),
    Column("code", String(20)),
    Column("status", Enum(*STATUSES, name="item_status")),
    Column("active", Boolean, nullable=False),
    Column("price", Numeric(10, 2)),
    Column("qty", Integer),
    Column("born", Date),
    Column("seen_at", DateTime),
    Column("rank", Integer, nullable=False),
    Column("note", Text),
    Column("secret", String(50)),
    Index("ix_items_rank", "rank"),
)


def owner_rows() -> list[dict[str, Any]]:
    rows = [{"id": n, "name": f"Owner {n}", "secret": f"owner-secret-{n}"} for n in range(1, 6)]
    rows.append({"id": 6, "name": "Lonely", "secret": None})
    return rows


def item_rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(1, 61):
        rows.append(
            {
                "id": i,
                "owner_id": None if i % 10 == 0 else i % 5 + 1,
                "name": SPECIAL_NAMES.get(i, f"Item {i:02d}"),
                "code": None if i % 7 == 0 else f"C{i % 4}",
                "status": STATUSES[i % 3],
                "active": i % 2 == 0,
                "price": Decimal(i) * Decimal("1.50"),
                "qty": None if i % 11 == 0 else i % 6,
                "born": dt.date(2020, 1, 1) + dt.timedelta(days=i),
                "seen_at": dt.datetime(2021, 1, 1, 12, 0) + dt.timedelta(days=i // 2, hours=i % 3),
                "rank": i // 3,
                "note": f"note {i}",
                "secret": f"s3cr3t-{i}",
            }
        )
    return rows


ITEMS = item_rows()


async def install(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(owners.insert(), owner_rows())
        await conn.execute(items.insert(), ITEMS)


def ids_where(predicate: Callable[[dict[str, Any]], bool]) -> list[int]:
    return [row["id"] for row in ITEMS if predicate(row)]


async def startup_error(engine: AsyncEngine, db_url: str, options: dict[str, Any]) -> str:
    """The one-line message with which the app refuses to start on the fixture tables with
    these per-table `options` (the test fails if it starts)."""
    await install(engine)
    server = TestServer(create_app(settings_for_url(db_url, tables=table_options(options))))
    try:
        with pytest.raises(StartupError) as caught:
            await server.start_server()
    finally:
        await server.close()
    return str(caught.value)
