"""Bulk change cost against the bare statement, on one database (MariaDB by default):
`python -m bench.bulk_change [URL] [ROWS]` fills a fresh table, then times a bulk "set" with
audit (one change set) on every row a filter finds, the bare UPDATE ... WHERE of the same
rows, and the revert of the change set, and prints seconds, rows/s, the ratios and the peak
RSS. A script that prints numbers, not a test."""

from __future__ import annotations

import asyncio
import resource
import sys
import time
import uuid

from aiohttp import web
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from webapp.app import create_app
from webapp.changes.audit import AuditLog, AuditTrail
from webapp.changes.bulk_writes import Selection, set_values
from webapp.changes.change_sets import change_set_entries, close_change_set, open_change_set
from webapp.changes.revert_sets import revert_change_set
from webapp.changes.writes import write_transaction
from webapp.settings import settings_for_url
from webapp.web.appkeys import CATALOG, SESSIONMAKER

DEFAULT_URL = "mysql+aiomysql://root@127.0.0.1:3306"


async def main(server_url: str, rows: int) -> None:
    name = f"bench_bulk_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        await bench(url, rows)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE {name}"))
        await admin.dispose()


async def bench(url: str, rows: int) -> None:
    metadata = MetaData()
    table = Table(
        "records",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("status", String(20), index=True),
        Column("amount", Integer),
        Column("note", String(100)),
    )
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for start in range(0, 2 * rows, 10_000):
            await conn.execute(
                insert(table),
                [
                    {"id": i, "status": "open" if i % 2 else "paid", "amount": i, "note": "n"}
                    for i in range(start + 1, start + 10_001)
                ],
            )
    app = create_app(settings_for_url(url))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        info = app[CATALOG].tables["records"]
        where = (info.table.c.status == "open",)

        start = time.perf_counter()
        async with engine.begin() as conn:
            bare = await conn.execute(
                update(table).where(table.c.status == "open").values(note="b")
            )
        bare_seconds = time.perf_counter() - start
        assert bare.rowcount == rows

        trail = AuditTrail(AuditLog.of(app), user_id=None, username="bench")
        start = time.perf_counter()
        async with app[SESSIONMAKER]() as session, write_transaction(session, trail) as conn:
            await open_change_set(conn, trail, "set", info, "bench")
            changed = await set_values(
                conn, info, Selection(where=where, limit=rows), {"note": "s"}
            )
            await close_change_set(conn, trail, changed)
        bulk_seconds = time.perf_counter() - start
        assert changed == rows, changed
        set_id = trail.change_set_id

        revert_trail = AuditTrail(AuditLog.of(app), user_id=None, username="bench")
        audit = AuditLog.of(app)
        start = time.perf_counter()
        async with app[SESSIONMAKER]() as session, write_transaction(session, revert_trail) as conn:
            await open_change_set(conn, revert_trail, "revert", info, "bench", reverts_id=set_id)

            async def entries(after_id, limit):  # type: ignore[no-untyped-def]
                return await change_set_entries(conn, audit, set_id, after_id, limit)

            outcome = await revert_change_set(conn, info, entries, only_unchanged=False)
            await close_change_set(conn, revert_trail, outcome.reverted)
        revert_seconds = time.perf_counter() - start
        assert outcome.reverted == rows
    finally:
        await runner.cleanup()
        await engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows changed: {rows:,} of {2 * rows:,} (filter status = open)")
    print(f"bare UPDATE ... WHERE:    {bare_seconds:7.2f} s")
    print(
        f"bulk set with audit:      {bulk_seconds:7.2f} s  {rows / bulk_seconds:9,.0f} rows/s"
        f"  {bulk_seconds / bare_seconds:5.1f}x the bare UPDATE"
    )
    print(
        f"revert of the change set: {revert_seconds:7.2f} s  {rows / revert_seconds:9,.0f} rows/s"
        f"  {revert_seconds / bare_seconds:5.1f}x the bare UPDATE"
    )
    print(f"peak RSS: {peak:,.0f} MB")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    asyncio.run(
        main(
            arguments[0] if arguments else DEFAULT_URL,
            int(arguments[1]) if len(arguments) > 1 else 100_000,
        )
    )
