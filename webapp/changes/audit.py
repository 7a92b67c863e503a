"""The audit trail: who changed which row when, with the values before and after.

webapp.changes.writes records an entry for every insert, update and delete it makes. When the app's
own tables share the data's database (the default) the entry is written on the same
connection, inside the same transaction as the change: both commit or neither does. When they
live in a separate database (`auth.database_url`) that cannot be; then the entry is written
and committed there first, as `pending`, before the data transaction commits, and marked
`committed` (or `failed`) afterwards. A change is therefore never committed without an entry;
if the process stops between the two commits an entry may stay `pending`, and pages say so."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from webapp.accounts.models import AccountModels
from webapp.changes.audit_values import dump_key, dump_row, same_value
from webapp.clock import utc_now_precise
from webapp.database.dialects import equals
from webapp.schema.catalog import TableInfo
from webapp.values import key_text
from webapp.web.urls import key_segment

log = logging.getLogger(__name__)

ACTIONS = ("create", "update", "delete")
COMMITTED, PENDING, FAILED = "committed", "pending", "failed"


def record_hash(table_name: str, key: Sequence[Any]) -> str:
    """The index key of one record's history: its table and its key as the URL shows it."""
    text = table_name + "\x00" + key_segment([key_text(value) for value in key])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class AuditLog:
    """Where entries go: the app's own tables (`models`), on the data's connection, or on
    `separate` when they live in another database."""

    models: AccountModels
    separate: async_sessionmaker[AsyncSession] | None

    @property
    def table(self) -> Table:
        return self.models.table(self.models.audit_entry)

    @property
    def sets_table(self) -> Table:
        return self.models.table(self.models.change_set)

    @asynccontextmanager
    async def reading(self, data_session: AsyncSession) -> AsyncIterator[AsyncConnection]:
        """A connection to read entries on: `data_session`'s when the log shares the data's
        database (no second pool connection per page), else one to the separate database."""
        if self.separate is None:
            yield await data_session.connection()
            return
        async with self.separate() as session:
            yield await session.connection()


@dataclass
class AuditTrail:
    """The entries of one write transaction: whose they are, (for a revert) which entry
    they undo, and (for a bulk change) the change set they belong to."""

    log: AuditLog
    user_id: int | None
    username: str
    reverts_id: int | None = None
    pending: list[int] = field(default_factory=list)
    change_set_id: int | None = None
    pending_set: int | None = None  # a change set written pending in a separate database
    # The ids of the entries written, in order: the pages' Undo links revert them.
    entry_ids: list[int] = field(default_factory=list)

    async def record(
        self,
        conn: AsyncConnection,
        action: str,
        info: TableInfo,
        key: tuple[Any, ...],
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """Write the entry for one change `conn` just made; for an update only the columns
        whose value changed (no entry when none did)."""
        if action == "update" and before is not None and after is not None:
            changed = [name for name in after if not same_value(after[name], before[name])]
            if not changed:
                return
            before = {name: before[name] for name in changed}
            after = {name: after[name] for name in changed}
        values = self._values(action, info, key, before, after, self.reverts_id)
        if self.log.separate is None:
            statement = insert(self.log.table).values({**values, "state": COMMITTED})
            written_key = (await conn.execute(statement)).inserted_primary_key
            assert written_key is not None  # None only for an executemany
            self.entry_ids.append(written_key[0])
            return
        async with self.log.separate() as session, session.begin():
            statement = insert(self.log.table).values({**values, "state": PENDING})
            # An INSERT's result is a CursorResult; AsyncSession.execute types it as Result.
            result = cast(CursorResult[Any], await session.execute(statement))
            entry_key = result.inserted_primary_key
            assert entry_key is not None  # None only for an executemany
            self.pending.append(entry_key[0])
            self.entry_ids.append(entry_key[0])

    async def record_many(
        self, conn: AsyncConnection, action: str, info: TableInfo, changes: Sequence[RowChange]
    ) -> int:
        """Write the entries of a batch of changes `conn` just made, in one statement (a bulk
        change writes thousands); as `record` does, an update that changed no column gets
        none. Returns how many entries were written. Only inside a change set."""
        rows = []
        for change in changes:
            before, after = change.before, change.after
            if action == "update" and before is not None and after is not None:
                changed = [name for name in after if not same_value(after[name], before[name])]
                if not changed:
                    continue
                before = {name: before[name] for name in changed}
                after = {name: after[name] for name in changed}
            rows.append(self._values(action, info, change.key, before, after, change.reverts_id))
        if not rows:
            return 0
        state = COMMITTED if self.log.separate is None else PENDING
        rows = [{**row, "state": state} for row in rows]
        if self.log.separate is None:
            await conn.execute(insert(self.log.table), rows)
        else:
            async with self.log.separate() as session, session.begin():
                await session.execute(insert(self.log.table), rows)
        return len(rows)

    def _values(
        self,
        action: str,
        info: TableInfo,
        key: tuple[Any, ...],
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        reverts_id: int | None,
    ) -> dict[str, Any]:
        return {
            "at": utc_now_precise(),  # entries of one second stay in order
            "user_id": self.user_id,
            "username": self.username,
            "action": action,
            "table_name": info.name,
            "key_hash": record_hash(info.name, key),
            "row_key": dump_key(key),
            "old_values": dump_row(before),
            "new_values": dump_row(after),
            "reverts_id": reverts_id,
            "change_set_id": self.change_set_id,
        }

    async def finish(self, committed: bool) -> None:
        """After the data transaction ended: settle the entries (and change set) left
        pending in a separate database. A failure here is logged; they then stay pending."""
        separate = self.log.separate
        if separate is None or (not self.pending and self.pending_set is None):
            return  # entries and change sets are pending only in a separate database
        ids, self.pending = self.pending, []
        set_id, self.pending_set = self.pending_set, None
        state = COMMITTED if committed else FAILED
        table, sets = self.log.table, self.log.sets_table
        try:
            async with separate() as session, session.begin():
                if ids:
                    await session.execute(
                        update(table).where(table.c.id.in_(ids)).values(state=state)
                    )
                if set_id is not None:
                    await session.execute(
                        update(table).where(table.c.change_set_id == set_id).values(state=state)
                    )
                    await session.execute(
                        update(sets).where(sets.c.id == set_id).values(state=state)
                    )
        except Exception:
            log.exception("audit entries %s / change set %s left pending", ids, set_id)


@dataclass(frozen=True)
class RowChange:
    """One row of a batch: its key, its values before and after (None where there is no
    such row), and the entry it undoes (a revert's)."""

    key: tuple[Any, ...]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reverts_id: int | None = None


async def record_entries(
    conn: AsyncConnection, audit: AuditLog, info: TableInfo, key: Sequence[Any], limit: int
) -> list[Any]:
    """The newest `limit` entries of one record, newest first."""
    table = audit.table
    statement = (
        select(table)
        .where(table.c.key_hash == record_hash(info.name, key), table.c.table_name == info.name)
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    return list((await conn.execute(statement)).all())


async def entry_by_id(conn: AsyncConnection, audit: AuditLog, entry_id: int) -> Any | None:
    table = audit.table
    condition = equals(table.c.id, entry_id, conn.dialect)
    return (await conn.execute(select(table).where(condition))).first()


async def reverted_by(
    conn: AsyncConnection, audit: AuditLog, entries: Sequence[Any]
) -> dict[int, int]:
    """Which of `entries` a committed later entry has reverted, and the first such entry:
    looked up through the records' history index, since a revert is recorded on the record
    it restores."""
    if not entries:
        return {}
    table = audit.table
    statement = (
        select(table.c.reverts_id, table.c.id)
        .where(
            table.c.key_hash.in_(sorted({entry.key_hash for entry in entries})),
            table.c.reverts_id.in_(sorted({entry.id for entry in entries})),
            table.c.state == COMMITTED,
        )
        .order_by(table.c.id.desc())
    )
    return {row.reverts_id: row.id for row in await conn.execute(statement)}
