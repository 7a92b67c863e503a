"""The console's records in the app's own tables: every run (who, when, the SQL, how long,
how many rows, the refusal), and saved queries, private to their owner or shared."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select

from webapp.accounts.store import Accounts, UserState
from webapp.clock import utc_now

NAME_MAX = 200
RECENT_RUNS = 20


class SavedQueryError(Exception):
    """A saved query that cannot be made as asked; the message says why."""


async def record_run(
    accounts: Accounts,
    user: UserState,
    sql: str,
    action: str,
    milliseconds: int,
    row_count: int | None,
    error: str | None,
) -> None:
    """Keep one run in `{prefix}sql_runs`."""
    model = accounts.models.sql_run
    async with accounts.sessionmaker() as session, session.begin():
        session.add(
            model(
                at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                user_id=user.id,
                username=user.username,
                sql_text=sql,
                action=action,
                milliseconds=milliseconds,
                row_count=row_count,
                error=error,
            )
        )


async def recent_runs(accounts: Accounts, user: UserState) -> Sequence[Any]:
    """The user's latest runs, newest first."""
    model = accounts.models.sql_run
    async with accounts.sessionmaker() as session:
        statement = (
            select(model)
            .where(model.user_id == user.id)
            .order_by(model.id.desc())
            .limit(RECENT_RUNS)
        )
        return (await session.scalars(statement)).all()


async def visible_queries(accounts: Accounts, user: UserState) -> Sequence[Any]:
    """The user's own saved queries and everyone's shared ones, by name."""
    model = accounts.models.saved_query
    async with accounts.sessionmaker() as session:
        statement = (
            select(model)
            .where(or_(model.owner_id == user.id, model.shared.is_(True)))
            .order_by(model.name, model.id)
        )
        return (await session.scalars(statement)).all()


async def find_query(accounts: Accounts, user: UserState, query_id: int) -> Any | None:
    """A saved query the user may see (their own, or shared), else None."""
    model = accounts.models.saved_query
    async with accounts.sessionmaker() as session:
        found = await session.get(model, query_id)
    if found is None or (found.owner_id != user.id and not found.shared):
        return None
    return found


async def save_query(
    accounts: Accounts, user: UserState, name: str, description: str, sql: str, shared: bool
) -> int:
    """Save a new query; return its id (its URL is /sql/q/<id>)."""
    name = name.strip()
    if not name:
        raise SavedQueryError("Give the query a name.")
    if len(name) > NAME_MAX:
        raise SavedQueryError(f"A name has at most {NAME_MAX} characters.")
    if not sql.strip():
        raise SavedQueryError("There is no SQL to save.")
    model = accounts.models.saved_query
    now = utc_now()
    async with accounts.sessionmaker() as session, session.begin():
        row = model(
            owner_id=user.id,
            owner_name=user.username,
            name=name,
            description=description.strip(),
            sql_text=sql,
            shared=shared,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        return int(row.id)


async def delete_query(accounts: Accounts, user: UserState, query_id: int) -> bool:
    """Delete a saved query its owner (or an admin) asks to; whether one was deleted."""
    model = accounts.models.saved_query
    condition = model.id == query_id
    if user.role != "admin":
        condition = condition & (model.owner_id == user.id)
    async with accounts.sessionmaker() as session, session.begin():
        # A DELETE's result is a CursorResult; AsyncSession.execute types it as Result.
        result = cast(CursorResult[Any], await session.execute(delete(model).where(condition)))
    return bool(result.rowcount)
