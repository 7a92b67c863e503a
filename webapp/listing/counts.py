"""Row counts that never scan a big table: exact where a bounded count proves the table is
small, otherwise the engine's own estimate, clearly marked as one."""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, literal_column, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from webapp.database.dialects import (
    is_schema_mismatch,
    is_timeout,
    statement_time_limit,
    table_row_estimates,
)
from webapp.database.failures import is_unavailable
from webapp.schema.catalog import Catalog, TableInfo
from webapp.ttl_cache import TtlCache
from webapp.web.errors import first_line

log = logging.getLogger(__name__)

EXACT_COUNT_LIMIT = 10_000
COUNT_TIME_LIMIT_SECONDS = 1.0
INDEX_COUNT_BUDGET_SECONDS = 3.0
COUNT_CACHE_SECONDS = 30.0
ALL_TABLES = "all tables"  # the index page's one entry in its cache

CountKind = Literal["exact", "estimate", "at_least", "unknown"]


@dataclass(frozen=True)
class RowCount:
    """A number of rows and how much to trust it."""

    value: int
    kind: CountKind

    @property
    def exact(self) -> bool:
        return self.kind == "exact"

    def __str__(self) -> str:
        if self.kind == "unknown":
            return "unknown"
        number = f"{self.value:,}"
        if self.kind == "estimate":
            return f"about {number}"
        if self.kind == "at_least":
            return f"more than {number}"
        return number


UNKNOWN = RowCount(0, "unknown")


def count_caches() -> tuple[TtlCache[str, dict[str, RowCount]], TtlCache[Hashable, RowCount]]:
    """The app's two count caches: the index page's counts of every table (one entry,
    under ALL_TABLES), and the table pages' counts by (table, filters)."""
    return TtlCache(COUNT_CACHE_SECONDS), TtlCache(COUNT_CACHE_SECONDS, max_entries=1000)


async def catalog_row_counts(conn: AsyncConnection, catalog: Catalog) -> dict[str, RowCount]:
    """A count for every table and view, within a total time budget: tables past the budget
    are reported as unknown rather than making the index page slow."""
    estimates = await table_row_estimates(conn)
    deadline = time.monotonic() + INDEX_COUNT_BUDGET_SECONDS
    counts: dict[str, RowCount] = {}
    for info in catalog:
        estimate = estimates.get(info.name)
        if estimate is not None and estimate > 2 * EXACT_COUNT_LIMIT:
            counts[info.name] = RowCount(estimate, "estimate")
        elif time.monotonic() > deadline:
            counts[info.name] = UNKNOWN
        else:
            counts[info.name] = await _index_count(conn, info, estimate)
    return counts


async def _index_count(conn: AsyncConnection, info: TableInfo, estimate: int | None) -> RowCount:
    """One table's count for the index: a table the database refuses to count (no right
    to read it, a view it cannot run) is unknown there, never the whole page's error."""
    try:
        return await bounded_count(conn, info, estimate=estimate)
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise
        log.warning("cannot count the rows of %r: %s", info.name, first_line(exc))
        return UNKNOWN


async def table_row_count(conn: AsyncConnection, info: TableInfo) -> RowCount:
    """One table's count: the estimate when it is clearly large, else a bounded count."""
    estimate = (await table_row_estimates(conn, only=info.name)).get(info.name)
    if estimate is not None and estimate > 2 * EXACT_COUNT_LIMIT:
        return RowCount(estimate, "estimate")
    return await bounded_count(conn, info, estimate=estimate)


async def filtered_count(conn: AsyncConnection, info: TableInfo, statement: Select) -> RowCount:
    """The number of rows `statement` selects, exact up to EXACT_COUNT_LIMIT; past that limit,
    or past COUNT_TIME_LIMIT_SECONDS, a lower bound ("more than N") or unknown."""
    value = await _count_within_limits(conn, statement)
    if value is None:
        return UNKNOWN
    if value > EXACT_COUNT_LIMIT:
        return RowCount(EXACT_COUNT_LIMIT, "at_least")
    return RowCount(value, "exact")


async def bounded_count(
    conn: AsyncConnection,
    info: TableInfo,
    *,
    estimate: int | None = None,
    statement: Select | None = None,
) -> RowCount:
    """Count the rows of `statement` (default: the whole table) up to EXACT_COUNT_LIMIT and
    within COUNT_TIME_LIMIT_SECONDS; beyond either, fall back to the estimate or a lower
    bound."""
    base = (
        statement if statement is not None else select(literal_column("1")).select_from(info.table)
    )
    value = await _count_within_limits(conn, base)
    if value is None:
        return RowCount(estimate, "estimate") if estimate else UNKNOWN
    if value <= EXACT_COUNT_LIMIT:
        return RowCount(value, "exact")
    if estimate and estimate > EXACT_COUNT_LIMIT:
        return RowCount(estimate, "estimate")
    return RowCount(EXACT_COUNT_LIMIT, "at_least")


async def exact_count(conn: AsyncConnection, statement: Select) -> int:
    """How many rows `statement` selects, however many: only for what a user asked for
    (the last page), under the caller's time limit."""
    return int(await conn.scalar(select(func.count()).select_from(statement.subquery())) or 0)


async def _count_within_limits(conn: AsyncConnection, statement: Select) -> int | None:
    """How many rows `statement` selects, counting at most EXACT_COUNT_LIMIT + 1 of them
    within COUNT_TIME_LIMIT_SECONDS; None when the time ran out."""
    limited = statement.limit(EXACT_COUNT_LIMIT + 1).subquery()
    query = select(func.count()).select_from(limited)
    try:
        async with statement_time_limit(conn, COUNT_TIME_LIMIT_SECONDS):
            return int(await conn.scalar(query) or 0)
    except DBAPIError as exc:
        # A table renamed or dropped since the catalog was reflected counts as unknown: the
        # page that asked goes on (schema.watch notices the change).
        if not (is_timeout(exc) or is_schema_mismatch(exc)):
            raise
        return None
