"""Change sets: many rows changed in one transaction (a bulk action, the revert of a change
set), recorded as one entry of who, when, what and how many, whose rows' before/after
entries in the audit log carry its id. The entry is written in the transaction that makes
the change (or pending in a separate audit database, settled by AuditTrail.finish), so a
change set exists exactly when its rows were changed."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.changes.audit import COMMITTED, PENDING, AuditLog, AuditTrail
from webapp.clock import utc_now_precise
from webapp.database.dialects import can_hold, equals
from webapp.schema.catalog import TableInfo

# What a change set did, as the activity page names it.
SET_ACTIONS = ("delete", "set", "revert", "import")


async def open_change_set(
    conn: AsyncConnection,
    trail: AuditTrail,
    action: str,
    info: TableInfo,
    source: str,
    reverts_id: int | None = None,
) -> int:
    """Start a change set on `trail`: every entry it records from now on belongs to it.
    `source` says where the rows came from (the view's filter, the chosen keys)."""
    values = {
        "at": utc_now_precise(),
        "user_id": trail.user_id,
        "username": trail.username,
        "action": action,
        "table_name": info.name,
        "row_count": 0,
        "source": source,
        "reverts_id": reverts_id,
    }
    table = trail.log.sets_table
    if trail.log.separate is None:
        result = await conn.execute(insert(table).values({**values, "state": COMMITTED}))
        trail.change_set_id = _inserted_id(result)
    else:
        async with trail.log.separate() as session, session.begin():
            # An INSERT's result is a CursorResult; AsyncSession.execute types it as Result.
            pending = await session.execute(insert(table).values({**values, "state": PENDING}))
            trail.change_set_id = trail.pending_set = _inserted_id(cast(CursorResult[Any], pending))
    assert trail.change_set_id is not None
    return trail.change_set_id


async def close_change_set(conn: AsyncConnection, trail: AuditTrail, row_count: int) -> None:
    """Record how many rows the change set changed, before its transaction commits."""
    table = trail.log.sets_table
    statement = update(table).where(table.c.id == trail.change_set_id).values(row_count=row_count)
    if trail.log.separate is None:
        await conn.execute(statement)
        return
    async with trail.log.separate() as session, session.begin():
        await session.execute(statement)


async def change_set_by_id(conn: AsyncConnection, log: AuditLog, set_id: int) -> Any | None:
    """The change set numbered `set_id`, read on `conn` (the audit log's connection)."""
    table = log.sets_table
    if not can_hold(table.c.id, set_id, conn.dialect):
        return None
    condition = equals(table.c.id, set_id, conn.dialect)
    return (await conn.execute(select(table).where(condition))).first()


async def change_set_entries(
    conn: AsyncConnection, log: AuditLog, set_id: int, after_id: int | None, limit: int
) -> list[Any]:
    """Up to `limit` entries of the change set, in the order they were written, after the
    entry `after_id` (keyset paging: a deep page costs what the first does)."""
    table = log.table
    statement = (
        select(table).where(table.c.change_set_id == set_id).order_by(table.c.id).limit(limit)
    )
    if after_id is not None:
        statement = statement.where(table.c.id > after_id)
    return list((await conn.execute(statement)).all())


def _inserted_id(result: CursorResult[Any]) -> int:
    """The id of the one row an INSERT made."""
    key = result.inserted_primary_key
    assert key is not None  # None only for an executemany
    return int(key[0])
