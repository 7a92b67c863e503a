"""Import speed against the bare statements, on one database (MariaDB by default):
`python -m bench.import_speed [URL] [ROWS]` writes a CSV of ROWS rows for a table with a
foreign key and two secondary indexes, then loads it into the empty table three ways: a
plain executemany INSERT of the already-parsed rows (batches of 1,000, one transaction),
`LOAD DATA LOCAL INFILE` where the server allows it (the physical limit), and the import
(webapp.changes.import_jobs.run_import: every cell parsed by the form's fields, batches with
executemany, every row audited, one change set). It prints seconds, rows/s, the ratios and
the peak RSS. A script that prints numbers, not a test."""

from __future__ import annotations

import asyncio
import csv
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiohttp import web
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from webapp.app import create_app
from webapp.changes.audit import AuditTrail
from webapp.changes.import_files import file_shape
from webapp.changes.import_jobs import IMPORTED, FileSource, run_import
from webapp.changes.imports import ImportPlan, ImportProgress, default_mapping
from webapp.settings import settings_for_url
from webapp.views.common import audit_log
from webapp.web.appkeys import CATALOG, SESSIONMAKER

DEFAULT_URL = "mysql+aiomysql://root@127.0.0.1:3306"
OWNERS = 1000
BATCH = 1000


async def main(server_url: str, rows: int) -> None:
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as directory:
            await bench(url, rows, Path(directory) / "records.csv")
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE {name}"))
        await admin.dispose()


def records_table(metadata: MetaData) -> Table:
    Table("owners", metadata, Column("id", Integer, primary_key=True, autoincrement=False))
    return Table(
        "records",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("owner_id", Integer, ForeignKey("owners.id"), nullable=False, index=True),
        Column("name", String(60), nullable=False),
        Column("email", String(100), index=True),
        Column("status", String(20), nullable=False),
        Column("amount", Integer, nullable=False),
    )


def write_csv(path: Path, rows: int) -> list[dict[str, object]]:
    values: list[dict[str, object]] = [
        {
            "id": i,
            "owner_id": i % OWNERS + 1,
            "name": f"name {i}",
            "email": f"user{i}@example.com",
            "status": "open" if i % 3 else "paid",
            "amount": i % 10_000,
        }
        for i in range(1, rows + 1)
    ]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(values[0]))
        writer.writeheader()
        writer.writerows(values)
    return values


async def bench(url: str, rows: int, path: Path) -> None:
    metadata = MetaData()
    table = records_table(metadata)
    values = write_csv(path, rows)
    engine = create_async_engine(url, connect_args={"local_infile": True})
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(metadata.tables["owners"]), [{"id": i} for i in range(1, OWNERS + 1)]
        )

    start = time.perf_counter()
    async with engine.begin() as conn:
        for first in range(0, rows, BATCH):
            await conn.execute(insert(table), values[first : first + BATCH])
    plain = time.perf_counter() - start
    del values
    await empty(engine)

    load: float | None = None
    try:
        start = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE records FIELDS TERMINATED BY ','"
                    " OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\r\\n' IGNORE 1 LINES"
                )
            )
        load = time.perf_counter() - start
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT COUNT(*) FROM records")) == rows
    except Exception as exc:
        print(f"LOAD DATA LOCAL INFILE: not measured ({str(exc).splitlines()[0][:120]})")
    await empty(engine)

    app = create_app(settings_for_url(url))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        info = app[CATALOG].tables["records"]
        with path.open("rb") as binary:
            start = time.perf_counter()
            shape = file_shape(binary, "csv", None)
            reading = time.perf_counter() - start
            plan = ImportPlan(info, default_mapping(info, shape.columns, engine.dialect))
            trail = AuditTrail(audit_log(app), user_id=None, username="bench")
            progress = ImportProgress(total=shape.rows)
            start = time.perf_counter()
            state, message = await run_import(
                app[SESSIONMAKER],
                trail,
                plan,
                FileSource(str(path), shape, binary),
                progress,
                dry_run=False,
            )
            imported = time.perf_counter() - start
        assert state == IMPORTED, message
        assert progress.inserted == rows
    finally:
        await runner.cleanup()
        await engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows: {rows:,} (records: a foreign key, two secondary indexes)")
    print(f"plain executemany INSERT:     {plain:7.2f} s  {rows / plain:9,.0f} rows/s")
    if load is not None:
        print(f"LOAD DATA LOCAL INFILE:       {load:7.2f} s  {rows / load:9,.0f} rows/s")
    print(f"reading the file once (upload): {reading:5.2f} s")
    print(
        f"import with audit:            {imported:7.2f} s  {rows / imported:9,.0f} rows/s"
        f"  {100 * plain / imported:5.1f}% of plain executemany"
        + (f", {100 * load / imported:5.1f}% of LOAD DATA" if load is not None else "")
    )
    print(f"peak RSS: {peak:,.0f} MB")


async def empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM records"))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    asyncio.run(
        main(
            arguments[0] if arguments else DEFAULT_URL,
            int(arguments[1]) if len(arguments) > 1 else 100_000,
        )
    )
