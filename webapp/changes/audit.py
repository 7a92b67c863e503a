"""The audit trail: who changed which row when, with the values before and after.

webapp.changes.writes records an entry for every insert, update and delete it makes. When the app's
own tables share the data's database (the default) the entry is written on the same
connection, inside the same transaction as the change: both commit or neither does. When they
live in a separate database (`auth.database_url`) that cannot be; then the entry is written
and committed there first, as `pending`, before the data transaction commits, and marked
`committed` (or `failed`) afterwards. A change is therefore never committed without an entry;
if the process stops between the two commits an entry may stay `pending`, and pages say so."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from webapp.accounts.models import AccountModels
from webapp.accounts.permissions import current_user
from webapp.changes.audit_values import encode_key, encode_row, same_value
from webapp.database.dialects import equals
from webapp.schema.catalog import TableInfo
from webapp.values import key_text
from webapp.web.appkeys import ACCOUNTS, DB_SESSION, SETTINGS
from webapp.web.urls import encode_key as url_key

log = logging.getLogger(__name__)

ACTIONS = ("create", "update", "delete")
COMMITTED, PENDING, FAILED = "committed", "pending", "failed"


def precise_utc_now() -> dt.datetime:
    """Naive UTC with microseconds (entries of one second stay in order)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def record_hash(table_name: str, key: Sequence[Any]) -> str:
    """The index key of one record's history: its table and its key as the URL shows it."""
    text = table_name + "\x00" + url_key([key_text(value) for value in key])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class AuditLog:
    """Where entries go: the app's own tables (`models`), on the data's connection, or on
    `separate` when they live in another database."""

    models: AccountModels
    separate: async_sessionmaker[AsyncSession] | None

    @classmethod
    def of(cls, app: web.Application) -> AuditLog:
        accounts = app[ACCOUNTS]
        separate = accounts.sessionmaker if app[SETTINGS].auth.database_url else None
        return cls(accounts.models, separate)

    @property
    def table(self) -> Any:
        return self.models.audit_entry.__table__

    @property
    def sets_table(self) -> Any:
        return self.models.change_set.__table__


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
            await conn.execute(insert(self.log.table).values({**values, "state": COMMITTED}))
            return
        async with self.log.separate() as session, session.begin():
            statement = insert(self.log.table).values({**values, "state": PENDING})
            result = await session.execute(statement)
            self.pending.append(result.inserted_primary_key[0])

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
            "at": precise_utc_now(),
            "user_id": self.user_id,
            "username": self.username,
            "action": action,
            "table_name": info.name,
            "key_hash": record_hash(info.name, key),
            "row_key": encode_key(key),
            "old_values": encode_row(before),
            "new_values": encode_row(after),
            "reverts_id": reverts_id,
            "change_set_id": self.change_set_id,
        }

    async def finish(self, committed: bool) -> None:
        """After the data transaction ended: settle the entries (and change set) left
        pending in a separate database. A failure here is logged; they then stay pending."""
        if not self.pending and self.pending_set is None:
            return
        ids, self.pending = self.pending, []
        set_id, self.pending_set = self.pending_set, None
        state = COMMITTED if committed else FAILED
        table, sets = self.log.table, self.log.sets_table
        try:
            async with self.log.separate() as session, session.begin():  # type: ignore[misc]
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


def request_trail(request: web.Request, reverts_id: int | None = None) -> AuditTrail:
    """The trail for a write made on behalf of the request's signed-in user."""
    user = current_user(request)
    return AuditTrail(
        AuditLog.of(request.app),
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else "",
        reverts_id=reverts_id,
    )


@asynccontextmanager
async def reading(request: web.Request) -> AsyncIterator[AsyncConnection]:
    """A connection to read entries on: the request's own when the log shares the data's
    database (no second pool connection per page), else one to the separate database."""
    audit = AuditLog.of(request.app)
    if audit.separate is None:
        yield await request[DB_SESSION].connection()
        return
    async with audit.separate() as session:
        yield await session.connection()


async def record_entries(
    request: web.Request, info: TableInfo, key: Sequence[Any], limit: int
) -> list[Any]:
    """The newest `limit` entries of one record, newest first."""
    audit = AuditLog.of(request.app)
    table = audit.table
    statement = (
        select(table)
        .where(table.c.key_hash == record_hash(info.name, key), table.c.table_name == info.name)
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    async with reading(request) as conn:
        return list((await conn.execute(statement)).all())


async def entry_by_id(request: web.Request, entry_id: int) -> Any | None:
    table = AuditLog.of(request.app).table
    async with reading(request) as conn:
        condition = equals(table.c.id, entry_id, conn.dialect)
        return (await conn.execute(select(table).where(condition))).first()
