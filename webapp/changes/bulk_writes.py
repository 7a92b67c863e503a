"""Writes to many rows at once, for bulk actions and the revert of a change set: the rows are
read, locked and changed in batches in primary-key order (a keyset walk, never all of them in
memory at once, and always the same lock order, so two bulk changes cannot deadlock each
other), each batch audited with one statement into the transaction's change set. Like
webapp.changes.writes, they run inside `write_transaction`; any refusal raises, and the
transaction rolls back: a bulk change happens whole or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from webapp.changes.audit import RowChange
from webapp.changes.audit_values import encode_key
from webapp.changes.inputs import new_text
from webapp.changes.writes import (
    bind_values,
    require_changeable_columns,
    row_version,
    transaction_trail,
)
from webapp.database.decoding import fetch_rows
from webapp.schema.catalog import TableInfo
from webapp.values import kind_for

BATCH_ROWS = 1000


class TooManyRows(Exception):
    """The selection holds more rows than a bulk change may touch."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} rows")
        self.limit = limit


class SelectionChanged(Exception):
    """The rows are not the ones the user confirmed: chosen rows changed or went (`keys`,
    as URL key texts' values), or the view now finds another number of rows (`found`).
    Nothing was written."""

    def __init__(self, keys: list[tuple[Any, ...]], expected: int | None, found: int) -> None:
        super().__init__("the selection changed since it was confirmed")
        self.keys = keys
        self.expected = expected
        self.found = found


@dataclass(frozen=True)
class Selection:
    """The rows a bulk change applies to: every row the view's conditions (`where`) find,
    or only the chosen `keys`, each expected at the version the user saw (`versions`, by
    audit-encoded key). `expected` is the count the confirmation showed; `limit` the most
    rows a bulk change may touch."""

    where: tuple[ColumnElement[bool], ...] = ()
    keys: tuple[tuple[Any, ...], ...] | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    expected: int | None = None
    limit: int = 100_000


def row_key(info: TableInfo, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[column.name] for column in info.primary_key)


def keys_condition(info: TableInfo, keys: Sequence[tuple[Any, ...]]) -> ColumnElement[bool]:
    """WHERE clause for the rows with these primary keys, each bound as its column's kind
    writes it."""
    columns = info.primary_key
    if len(columns) == 1:
        kind = kind_for(columns[0])
        return columns[0].in_([kind.bind_value(key[0]) for key in keys])
    kinds = [kind_for(column) for column in columns]
    return tuple_(*columns).in_(
        [tuple(k.bind_value(v) for k, v in zip(kinds, key, strict=True)) for key in keys]
    )


def after_key_condition(info: TableInfo, key: tuple[Any, ...]) -> ColumnElement[bool]:
    """WHERE clause for the rows after `key` in primary-key order (the keyset walk)."""
    columns = info.primary_key
    bound = [kind_for(c).bind_value(v) for c, v in zip(columns, key, strict=True)]
    if len(columns) == 1:
        return columns[0] > bound[0]
    return tuple_(*columns) > tuple_(*bound)


async def read_rows(
    conn: AsyncConnection,
    info: TableInfo,
    condition: ColumnElement[bool],
    *,
    lock: bool,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Whole rows (every column, as the audit log keeps them) in primary-key order;
    `lock` holds them until the transaction ends, taken in that order."""
    columns = list(info.table.columns)
    expressions = [kind_for(column, conn.dialect).record_expression() for column in columns]
    statement = select(*expressions).where(condition).order_by(*info.primary_key)
    if limit is not None:
        statement = statement.limit(limit)
    if lock:
        statement = statement.with_for_update()
    names = [column.name for column in columns]
    rows = await fetch_rows(conn, statement, expressions)
    return [dict(zip(names, row, strict=True)) for row in rows]


async def locked_batches(
    conn: AsyncConnection, info: TableInfo, selection: Selection
) -> AsyncIterator[list[dict[str, Any]]]:
    """The selection's rows, locked, a batch at a time in primary-key order. Refuses
    (TooManyRows) past the limit, and (SelectionChanged) chosen rows that changed or went,
    or a view that finds another number of rows than was confirmed."""
    seen = 0
    if selection.keys is not None:
        for start in range(0, len(selection.keys), BATCH_ROWS):
            chunk = selection.keys[start : start + BATCH_ROWS]
            rows = await read_rows(conn, info, keys_condition(info, chunk), lock=True)
            found = {encode_key(row_key(info, row)): row for row in rows}
            changed = [
                key
                for key in chunk
                if (row := found.get(encode_key(key))) is None
                or row_version(info, row) != selection.versions.get(encode_key(key))
            ]
            if changed:
                raise SelectionChanged(changed, selection.expected, seen + len(rows))
            seen += len(rows)
            if seen > selection.limit:
                raise TooManyRows(selection.limit)
            yield rows
        return
    where = and_(true(), *selection.where)
    last: tuple[Any, ...] | None = None
    while True:
        condition = where if last is None else and_(where, after_key_condition(info, last))
        rows = await read_rows(conn, info, condition, lock=True, limit=BATCH_ROWS)
        seen += len(rows)
        if seen > selection.limit:
            raise TooManyRows(selection.limit)
        if rows:
            yield rows
        if len(rows) < BATCH_ROWS:
            break
        last = row_key(info, rows[-1])
    if selection.expected is not None and seen != selection.expected:
        raise SelectionChanged([], selection.expected, seen)


async def set_values(
    conn: AsyncConnection, info: TableInfo, selection: Selection, values: Mapping[str, Any]
) -> int:
    """Set the columns in `values` on every selected row; returns how many rows changed
    (a row that already held the values is not written to the log)."""
    require_changeable_columns(info, values)
    key_names = {column.name for column in info.primary_key}
    if key_names & set(values):
        raise ValueError("a bulk change never sets a primary-key column")
    trail = transaction_trail(conn)
    bound = bind_values(info, {name: new_text(value) for name, value in values.items()})
    changed = 0
    async for rows in locked_batches(conn, info, selection):
        keys = [row_key(info, row) for row in rows]
        condition = keys_condition(info, keys)
        await conn.execute(update(info.table).where(condition).values(bound))
        after = {
            encode_key(row_key(info, row)): row
            for row in await read_rows(conn, info, condition, lock=False)
        }
        changes = [
            RowChange(key, before, after.get(encode_key(key)))
            for key, before in zip(keys, rows, strict=True)
        ]
        changed += await trail.record_many(conn, "update", info, changes)
    return changed


async def delete_rows(conn: AsyncConnection, info: TableInfo, selection: Selection) -> int:
    """Delete every selected row; returns how many were deleted."""
    trail = transaction_trail(conn)
    deleted = 0
    async for rows in locked_batches(conn, info, selection):
        keys = [row_key(info, row) for row in rows]
        await conn.execute(delete(info.table).where(keys_condition(info, keys)))
        changes = [RowChange(key, row, None) for key, row in zip(keys, rows, strict=True)]
        deleted += await trail.record_many(conn, "delete", info, changes)
    return deleted
