"""Building the statements behind list and record pages: which columns, in which order,
which slice. Identifiers come from the catalog; request values only ever become bound
parameters."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Column, Select, and_, select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from webapp.database.dialects import can_hold
from webapp.schema.catalog import TableInfo
from webapp.values import BadKey, ListColumn, column_family, kind_for
from webapp.web.errors import BadRequest, NoSuchRecord, NotFound

UNSORTABLE_FAMILIES = {"json", "binary", "unknown"}


@dataclass(frozen=True)
class SortKey:
    column: Column
    descending: bool

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + self.column.name


def sortable(column: Column) -> bool:
    return column_family(column.type) not in UNSORTABLE_FAMILIES


def parse_sort(info: TableInfo, raw: str | None) -> SortKey | None:
    """`?sort=name` or `?sort=-name`; an unknown or unsortable column is a 400."""
    if not raw:
        return None
    descending = raw.startswith("-")
    name = raw[1:] if descending else raw
    column = info.column(name)
    if column is None or not sortable(column):
        raise BadRequest(f"Cannot sort {info.name!r} by {name!r}: no such sortable column.")
    return SortKey(column, descending)


def order_by(
    info: TableInfo, sort: SortKey | None, *, reverse: bool = False
) -> list[ColumnElement[Any]]:
    """The requested order, then the primary key (or, lacking one, every sortable column)
    as tie-breaker, so that rows never swap places between pages; `reverse` walks it
    backwards (for the page before a cursor)."""
    keys: list[SortKey] = [sort] if sort is not None else []
    tie_breakers = info.primary_key or tuple(c for c in info.columns if sortable(c))
    direction = sort.descending if sort is not None else False
    keys.extend(
        SortKey(column, direction)
        for column in tie_breakers
        if sort is None or column is not sort.column
    )
    return [key.column.desc() if key.descending != reverse else key.column.asc() for key in keys]


@dataclass
class ListPlan:
    """The columns of a list page and the statement that fetches one page of them."""

    columns: list[ListColumn]
    positions: dict[str, int]
    key_names: list[str]
    # Where each labelled foreign-key column's label sits in a row, by column name.
    label_positions: dict[str, int]
    # Statements of this plan that take no value from a request (the first page of a
    # table, in each order), built once: a kept statement also keeps its cache key.
    fixed_statements: dict[Hashable, Select[Any]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @cached_property
    def readers(self) -> list[tuple[int, int, Any, bool]]:
        """Per listed column: where its values sit in a row, how to show them, and whether
        it is plain (one value shown as it is)."""
        readers: list[tuple[int, int, Any, bool]] = []
        position = 0
        for column in self.columns:
            width = len(column.expressions)
            readers.append((position, position + width, column.show, column.plain))
            position += width
        return readers

    def value(self, row: Sequence[Any], column_name: str) -> Any:
        """The whole value of a key or foreign-key column in a fetched row."""
        return row[self.positions[column_name]]


def list_plan(
    info: TableInfo,
    dialect: Dialect,
    *,
    also_whole: Sequence[Column] = (),
    labels: Mapping[str, ColumnElement[Any]] | None = None,
    listed: Sequence[Column] | None = None,
) -> tuple[ListPlan, list[ColumnElement[Any]]]:
    """What to select for a list page: the listed columns, long ones cut short in the
    database; key, foreign-key and `also_whole` columns whole (they make links and
    cursors), fetched after the listed ones if they are not listed themselves; then the
    `labels` of foreign-key columns (by column name: expressions naming the referenced
    rows, from labels.label_expressions). `listed` replaces the table's own list."""
    whole = {column.name: column for column in info.primary_key}
    for relation in info.outgoing:
        whole.update((name, info.table.columns[name]) for name in relation.columns)
    whole.update((column.name, column) for column in also_whole)
    columns = [
        kind_for(column, dialect).list_column(column.name in whole)
        for column in (info.list_columns if listed is None else listed)
    ]
    expressions: list[ColumnElement[Any]] = []
    positions: dict[str, int] = {}
    for column in columns:
        positions[column.column.name] = len(expressions)
        expressions.extend(column.expressions)
    for name, whole_column in whole.items():
        if name not in positions:
            positions[name] = len(expressions)
            expressions.append(whole_column)
    label_positions: dict[str, int] = {}
    for name, expression in (labels or {}).items():
        label_positions[name] = len(expressions)
        expressions.append(expression)
    key_names = [column.name for column in info.primary_key]
    return ListPlan(columns, positions, key_names, label_positions), expressions


def page_statement(
    info: TableInfo,
    expressions: list[ColumnElement[Any]],
    sort: SortKey | None,
    *,
    where: Sequence[ColumnElement[bool]] = (),
    offset: int = 0,
    limit: int,
    reverse: bool = False,
) -> Select[Any]:
    """One slice of the (filtered) table, from the base table alone: labels of related rows
    come from scalar subqueries in the select list (labels.label_expressions), never a JOIN,
    so the base table's plan stays what it would be alone (see the plain-JOIN trap in the
    notes)."""
    statement = select(*expressions).select_from(info.table).where(*where)
    statement = statement.order_by(*order_by(info, sort, reverse=reverse)).limit(limit)
    return statement.offset(offset) if offset else statement


def key_condition(
    info: TableInfo, key_parts: Sequence[str], dialect: Dialect | None = None
) -> ColumnElement[bool]:
    """WHERE clause for the record a URL names; a malformed key, or (given the dialect: every
    key from a request) one its column could never hold (beyond an integer type's range,
    text PostgreSQL cannot store), is a 404."""
    values = key_values(info, key_parts, dialect)
    return and_(*(column == value for column, value in zip(info.primary_key, values, strict=True)))


def key_values(
    info: TableInfo, key_parts: Sequence[str], dialect: Dialect | None = None
) -> list[Any]:
    """The typed values of the primary key a URL names, refused as key_condition says."""
    primary_key = info.primary_key
    if not primary_key:
        raise NotFound(f"{info.name!r} has no primary key, so its rows have no address.")
    if len(key_parts) != len(primary_key):
        raise NoSuchRecord()
    try:
        values = [
            kind_for(column).parse_key(part)
            for column, part in zip(primary_key, key_parts, strict=True)
        ]
    except BadKey:
        raise NoSuchRecord() from None
    pairs = list(zip(primary_key, values, strict=True))
    if dialect is not None and not all(can_hold(c, value, dialect) for c, value in pairs):
        raise NoSuchRecord()
    return values
