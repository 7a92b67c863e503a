"""Facets: for low-cardinality columns (enums, booleans, foreign keys, or the configured
ones), the most common values in the current filtered set with their counts. Each facet
query runs under a time limit and is left out, with a note, when it would be slow."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Enum, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from webapp.database.decoding import fetch_rows
from webapp.database.dialects import is_timeout, statement_time_limit
from webapp.schema.catalog import Catalog, TableInfo
from webapp.schema.labels import load_labels
from webapp.schema.titles import column_title
from webapp.ttl_cache import TtlCache
from webapp.values import column_family, key_text, kind_for

FACET_VALUES = 10
FACET_TIME_LIMIT_SECONDS = 0.5
DEFAULT_FACETS = 5
# Above this many rows (the cached estimate), facets run only when asked for (?facets=1).
AUTO_FACET_MAX_ROWS = 100_000
# How long a view's facets are reused: a burst of requests for one view (page 1 of a small
# table, shown with facets unasked) then costs the rows' statement alone. This process's
# own writes forget them at once (database.request_session), other processes' after this.
FACET_CACHE_SECONDS = 10.0
UNGROUPABLE_FAMILIES = ("json", "binary", "unknown")


@dataclass(frozen=True)
class FacetValue:
    text: str
    kind: str
    count: int
    href: str | None
    selected: bool
    label: str | None = None


@dataclass
class Facet:
    column: str
    values: list[FacetValue] = field(default_factory=list)
    note: str | None = None  # why the facet is empty: it took too long
    title: str = ""  # the column's readable title (schema/titles.py)


def facet_cache() -> TtlCache[Hashable, list[Facet]]:
    """The app's cache of facets by (table, role, view)."""
    return TtlCache(FACET_CACHE_SECONDS, max_entries=1000)


def facet_columns(info: TableInfo) -> list[Column]:
    """The configured facet columns, else up to DEFAULT_FACETS enums, booleans and
    single-column foreign keys (never the primary key)."""
    if info.options.facet_columns:
        configured = [info.table.columns[name] for name in info.options.facet_columns]
        return [c for c in configured if column_family(c.type) not in UNGROUPABLE_FAMILIES]
    out = []
    for column in info.columns:
        if column.primary_key:
            continue
        relation = info.relation_for(column.name)
        if (
            isinstance(column.type, Enum)
            or column_family(column.type) == "bool"
            or (relation is not None and len(relation.columns) == 1)
        ):
            out.append(column)
    return out[:DEFAULT_FACETS]


async def compute_facets(
    conn: AsyncConnection,
    catalog: Catalog,
    info: TableInfo,
    where: Sequence[ColumnElement[bool]],
    *,
    toggle_href: Callable[[Column, str | None], tuple[str, bool]],
) -> list[Facet]:
    """Each facet column's most common values under `where`. `toggle_href(column, text)`
    gives the link that adds (or, when already applied, removes) the filter for a value
    (None: is NULL) and whether it is applied."""
    facets = []
    for column in facet_columns(info):
        relation = info.relation_for(column.name)
        facet = Facet(column.name, title=column_title(column.name, reference=relation is not None))
        count = func.count().label("n")
        statement = (
            select(column, count)
            .select_from(info.table)
            .where(*where)
            .group_by(column)
            .order_by(count.desc(), column)
            .limit(FACET_VALUES)
        )
        try:
            async with statement_time_limit(conn, FACET_TIME_LIMIT_SECONDS):
                rows = await fetch_rows(conn, statement, [column, count])
        except DBAPIError as exc:
            if not is_timeout(exc):
                raise
            facet.note = "left out: counting took too long; filter the table first"
            facets.append(facet)
            continue
        labels: dict[Any, str] = {}
        if relation is not None:
            labels = await load_labels(conn, catalog, relation, [row[0] for row in rows])
        href: str | None  # None: a value kept as stored, which no filter can name
        for value, number in rows:
            text = None if value is None else key_text(value)
            kind = kind_for(column)
            href, selected = toggle_href(column, text)
            if not kind.fits(value):  # kept as stored: no filter can name it
                href, selected = None, False
            cell = kind.show(value, preview=True)
            facet.values.append(
                FacetValue(cell.text, cell.kind, int(number), href, selected, labels.get(value))
            )
        facets.append(facet)
    return facets
