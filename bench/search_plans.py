"""Database time of the search's plans on the benchmark table, as MariaDB's profiler measures
it (SHOW PROFILES): the bounded scan, the FULLTEXT plan (MATCH and the word-prefix
expression), the FULLTEXT-only page the app used before, and the count, for words from
frequent to absent. Run it after bench/run.py has loaded the data:

    .venv/bin/python bench/search_plans.py [--database webapp_bench] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql.elements import ColumnElement

from webapp.listing import fulltext
from webapp.listing.queries import list_plan, page_statement
from webapp.listing.search import WORD, search_for
from webapp.schema.catalog import reflect_catalog

WORDS = ("lindqvist", "boris", "boris lindqvist", "lindqvist7", "lindqvist777", "zzyzx")
PAGE = 50


async def profiled(conn: AsyncConnection, statement: Select, repeat: int) -> tuple[float, int]:
    """The median duration in ms of `statement` over `repeat` runs, and its row count."""
    durations = []
    rows = 0
    for _ in range(repeat):
        rows = len((await conn.execute(statement)).all())
        profiles = (await conn.execute(text("SHOW PROFILES"))).all()
        durations.append(float(profiles[-1][1]) * 1000)
    return statistics.median(durations), rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", default="mysql+aiomysql://root@127.0.0.1:3306")
    parser.add_argument("--database", default="webapp_bench")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--bounds", default="10000,20000,30000,50000")
    args = parser.parse_args()
    engine = create_async_engine(f"{args.server_url}/{args.database}")
    info = (await reflect_catalog(engine)).tables["records"]
    async with engine.connect() as conn:
        _, expressions = list_plan(info, conn.dialect)
        await conn.execute(text("SET profiling = 1"))
        await conn.execute(text("SET profiling_history_size = 100"))

        def page(where: ColumnElement[bool]) -> Select:
            return page_statement(info, expressions, None, where=[where], limit=PAGE + 1)

        def count(where: ColumnElement[bool]) -> Select:
            inner: Select[Any] = (
                select(literal_column("1")).select_from(info.table).where(where).limit(10_001)
            )
            return select(func.count()).select_from(inner.subquery())

        print(f"database time, median of {args.repeat} (ms); page = {PAGE} rows + 1")
        header = f"{'words':16} {'FT only':>8} {'FT plan':>8} {'count':>8}"
        bounds = [int(b) for b in args.bounds.split(",")]
        print(header + "".join(f" {'scan ' + str(b // 1000) + 'k':>12}" for b in bounds))
        for words in WORDS:
            search = search_for(info, words, conn.dialect)
            match = fulltext.fulltext_match(
                [info.table.c.name, info.table.c.email], WORD.findall(words), conn.dialect
            )
            assert match is not None and search.scan_condition is not None
            old, _ = await profiled(conn, page(match), args.repeat)
            both, _ = await profiled(conn, page(search.condition), args.repeat)
            counted, _ = await profiled(conn, count(search.condition), max(args.repeat // 2, 1))
            line = f"{words:16} {old:8.2f} {both:8.2f} {counted:8.2f}"
            for bound in bounds:
                fulltext.SCAN_ROWS_EXAMINED = bound
                scan = fulltext.bounded_scan(page(search.scan_condition), info.table, "PRIMARY")
                took, rows = await profiled(conn, scan, args.repeat)
                line += f" {took:7.2f} {'full' if rows > PAGE else 'short'}"
            print(line)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
