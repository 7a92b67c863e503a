"""Every statement that changes the user's data goes through this module: `insert_row`,
`update_row` and `delete_row`, each run inside `write_transaction`. That gives one place where
a row is locked and checked against what the user saw (lost-update protection), and one
place where the audit trail (webapp/changes/audit.py) records before/after values in the
same transaction. Whether the user may write the table at all is the write gate's to decide
(webapp.accounts.permissions.write_refusal), before a handler gets here; these functions
refuse only a write that sets a column the user may not change."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, and_, delete, insert, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from webapp.changes.inputs import UNCHANGED, resolve
from webapp.database.decoding import fetch_rows
from webapp.database.dialects import WRITE_TRANSACTION
from webapp.schema.catalog import TableInfo
from webapp.values import canonical, kind_for, restorable, stored_bind
from webapp.web.errors import Forbidden

if TYPE_CHECKING:
    from webapp.changes.audit import AuditTrail

AUDIT_TRAIL = "webapp_audit_trail"  # execution option: the transaction's AuditTrail


class RowChanged(Exception):
    """The row is no longer what the user saw: changed (`current` holds it now) or gone
    (`current` is None). Nothing was written."""

    def __init__(self, current: dict[str, Any] | None) -> None:
        super().__init__("the row changed since the form was opened")
        self.current = current


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the row before and after (None where there is no such row), and the
    key of the row written, as values."""

    before: dict[str, Any] | None
    after: dict[str, Any] | None
    key: tuple[Any, ...]


def require_changeable_columns(info: TableInfo, names: Iterable[str]) -> None:
    """Refuse (403) a write that sets a read-only column or one the user cannot see; the
    forms never offer them, this is the server's own check. A hidden name is not repeated."""
    visible = {column.name for column in info.columns}
    for name in names:
        if name not in visible:
            raise Forbidden("This change names a column you may not change.")
        if name in info.read_only_columns:
            raise Forbidden(f"The column {name!r} is read-only.")


@asynccontextmanager
async def write_transaction(
    session: AsyncSession, trail: AuditTrail
) -> AsyncIterator[AsyncConnection]:
    """A transaction meant to write, on the request's session: committed when the block
    ends, rolled back on any exception. Every write inside it is recorded in `trail`. On
    SQLite it starts with BEGIN IMMEDIATE, so concurrent writers queue for the lock instead
    of failing. The trail rides on the connection's execution options, which stay readable
    after the connection died, so the database's own error is the one reported."""
    if session.in_transaction():
        await session.rollback()  # a fresh transaction, so its first statement takes the lock
    try:
        async with session.begin():
            yield await session.connection(
                execution_options={WRITE_TRANSACTION: True, AUDIT_TRAIL: trail}
            )
    except BaseException:
        await trail.finish(committed=False)
        raise
    await trail.finish(committed=True)


def transaction_trail(conn: AsyncConnection) -> AuditTrail:
    """The transaction's trail; a write outside write_transaction is a bug, refused before
    anything is written."""
    sync = conn.sync_connection
    trail = sync.get_execution_options().get(AUDIT_TRAIL) if sync is not None else None
    if trail is None:
        raise RuntimeError("writes must run inside write_transaction, which audits them")
    return trail


async def _audited(
    conn: AsyncConnection, action: str, info: TableInfo, result: WriteResult
) -> WriteResult:
    """Record `result` in the transaction's trail, and return it."""
    trail = transaction_trail(conn)
    row = result.after if result.after is not None else result.before
    key = result.key
    if row is not None and info.primary_key:
        key = tuple(row[column.name] for column in info.primary_key)
    await trail.record(conn, action, info, key, result.before, result.after)
    return result


def row_version(info: TableInfo, row: Mapping[str, Any]) -> str:
    """A digest of a row's values as the user sees them (`info`'s columns): the form carries
    it, and a save goes ahead only while the row still has the same digest."""
    digest = hashlib.sha256()
    for column in info.columns:
        name = column.name
        if name not in row:
            continue
        value = row[name]
        digest.update(name.encode("utf-8", "surrogatepass") + b"\x00")
        digest.update(canonical(value) + b"\x01")
    return digest.hexdigest()


async def read_row(
    conn: AsyncConnection, info: TableInfo, condition: ColumnElement[bool], *, lock: bool
) -> dict[str, Any] | None:
    """The row `condition` names, by column name (every column of the table, hidden ones
    too: the audit trail keeps whole rows, so a revert loses nothing), or None; `lock` holds
    it until the transaction ends (SELECT ... FOR UPDATE; SQLite's BEGIN IMMEDIATE locks)."""
    columns = list(info.table.columns)
    expressions = [kind_for(column, conn.dialect).record_expression() for column in columns]
    statement = select(*expressions).where(condition).limit(2)
    if lock:
        statement = statement.with_for_update()
    rows = await fetch_rows(conn, statement, expressions)
    if not rows:
        return None
    return dict(zip([column.name for column in columns], rows[0], strict=True))


async def insert_row(
    conn: AsyncConnection, info: TableInfo, values: Mapping[str, Any]
) -> WriteResult:
    """Insert one row; columns absent from `values` are left to the database."""
    require_changeable_columns(info, values)
    transaction_trail(conn)
    result = await conn.execute(insert(info.table).values(bind_values(info, values)))
    key = tuple(result.inserted_primary_key or ())
    condition = values_condition(info, key)
    after = await read_row(conn, info, condition, lock=False) if condition is not None else None
    return await _audited(conn, "create", info, WriteResult(before=None, after=after, key=key))


async def update_row(
    conn: AsyncConnection,
    info: TableInfo,
    condition: ColumnElement[bool],
    expected_version: str,
    values: Mapping[str, Any],
    *,
    exact: bool = False,
) -> WriteResult:
    """Update the row if it is still the one the user saw (`expected_version`), writing only
    the columns whose value differs; raises RowChanged otherwise. Form input is compared as a
    browser sends it (line breaks); `exact` values (a revert's) are written as they are."""
    require_changeable_columns(info, values)
    transaction_trail(conn)
    before = await _lock_unchanged_row(conn, info, condition, expected_version)
    changes = {}
    for name, value in values.items():
        if exact:
            new = UNCHANGED if canonical(before[name]) == canonical(value) else value
        else:
            new = resolve(before[name], value, kind_for(info.table.c[name]))
        if new is not UNCHANGED:
            changes[name] = new
    key = tuple(before[column.name] for column in info.primary_key)
    if not changes:
        return WriteResult(before=before, after=before, key=key)
    await conn.execute(update(info.table).where(condition).values(bind_values(info, changes)))
    after = await read_row(conn, info, condition, lock=False)
    return await _audited(conn, "update", info, WriteResult(before=before, after=after, key=key))


async def delete_row(
    conn: AsyncConnection,
    info: TableInfo,
    condition: ColumnElement[bool],
    expected_version: str,
) -> WriteResult:
    """Delete the row if it is still the one the user saw; raises RowChanged otherwise."""
    transaction_trail(conn)
    before = await _lock_unchanged_row(conn, info, condition, expected_version)
    await conn.execute(delete(info.table).where(condition))
    key = tuple(before[column.name] for column in info.primary_key)
    return await _audited(conn, "delete", info, WriteResult(before=before, after=None, key=key))


async def _lock_unchanged_row(
    conn: AsyncConnection, info: TableInfo, condition: ColumnElement[bool], expected_version: str
) -> dict[str, Any]:
    """The row, locked until the transaction ends, if it still has the version the user saw;
    RowChanged (with what it holds now, or None if it is gone) otherwise."""
    current = await read_row(conn, info, condition, lock=True)
    if current is None or row_version(info, current) != expected_version:
        raise RowChanged(current)
    return current


def bind_values(info: TableInfo, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values keyed by column, as each column's kind writes them, with SQL NULL spelled out
    for JSON columns (where None would be stored as the JSON text `null`)."""
    bound: dict[str, Any] = {}
    for name, value in values.items():
        column = info.table.c[name]
        if value is None and isinstance(column.type, JSON):
            bound[column.key] = null()
        elif kind_for(column).fits(value) or not restorable(value):
            bound[column.key] = kind_for(column).bind_value(value)
        else:
            bound[column.key] = stored_bind(value)  # restored exactly as it was stored
    return bound


def values_condition(info: TableInfo, key: Sequence[Any]) -> ColumnElement[bool] | None:
    """WHERE clause for the row whose primary key has these values (None if it cannot),
    each bound as its column's kind writes it (a domain's text cast to the domain)."""
    columns = info.primary_key
    if not columns or len(key) != len(columns) or any(value is None for value in key):
        return None
    return and_(
        *(
            column == kind_for(column).bind_value(value)
            for column, value in zip(columns, key, strict=True)
        )
    )
