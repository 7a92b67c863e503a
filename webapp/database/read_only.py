"""Connections on which the database itself refuses every change: what the SQL console runs
people's statements on. It never parses their SQL to decide what is safe; per backend it
asks the database for a read-only transaction under a statement time limit:

- MySQL/MariaDB: `START TRANSACTION READ ONLY` on a session whose default transaction is
  read-only too (so a DDL statement's implicit commit cannot leave it), with
  `max_statement_time` (MariaDB) or `max_execution_time` (MySQL), on a connection that
  never asked for the multi-statement capability.
- PostgreSQL: `BEGIN READ ONLY` with `statement_timeout` and
  `idle_in_transaction_session_timeout` set for the transaction; the extended protocol
  asyncpg speaks refuses two statements in one.
- SQLite: a connection of its own opened `mode=ro`, with `PRAGMA query_only`, no attached
  databases allowed, and a deadline checked while a statement runs; Python's sqlite3 runs
  one statement per call.

This module is the read-only counterpart of dialects.py: the same selection by backend."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from webapp.database.dialects import (
    SQLITE_PROGRESS_STEPS,
    _json_dumps,
    backend_of,
    create_engine,
    is_mariadb,
    sqlite_text,
)
from webapp.settings import DatabaseSettings


def create_read_only_engine(
    database: DatabaseSettings, url: URL | None, connections: int, time_limit: float
) -> AsyncEngine:
    """An engine of its own for read-only statements: at most `connections` at once (a pool
    apart from the pages'), on `url` (a reader account) or the app's database, whose driver
    waits for a silent server at least as long as `time_limit`."""
    settings = dataclasses.replace(
        database,
        url=url or database.url,
        pool_size=connections,
        statement_timeout=max(database.statement_timeout, time_limit),
    )
    if database.backend == "sqlite":
        return _sqlite_read_only_engine(settings, connections)
    return create_engine(settings, console=True)


def sqlite_read_only_url(url: URL) -> URL:
    """The same SQLite file as a read-only URI (`mode=ro`): the file is opened so that no
    statement on the connection can write it."""
    path = quote(str(Path(url.database or "").resolve()))
    return URL.create(
        "sqlite+aiosqlite", database=f"file:{path}", query={"mode": "ro", "uri": "true"}
    )


def _sqlite_read_only_engine(database: DatabaseSettings, connections: int) -> AsyncEngine:
    engine = create_async_engine(
        sqlite_read_only_url(database.url),
        pool_size=connections,
        max_overflow=0,
        pool_timeout=database.pool_timeout,
        connect_args={"timeout": database.lock_timeout},
        json_serializer=_json_dumps,
    )
    event.listen(engine.sync_engine, "connect", _configure_sqlite_reader)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_read)
    return engine


def _configure_sqlite_reader(dbapi_connection: Any, _record: Any) -> None:
    """No writes (`query_only`, on top of `mode=ro`), no attached databases (ATTACH of
    another file, even with its own URI mode, fails on the limit), undecodable text kept."""
    dbapi_connection.isolation_level = None
    raw: sqlite3.Connection = dbapi_connection._connection._conn
    dbapi_connection._connection.text_factory = sqlite_text
    raw.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only = ON")
    finally:
        cursor.close()


def _begin_sqlite_read(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


class Deadline:
    """When the statements of a read-only transaction must stop; `renew` starts the time
    limit again (a download renews it for each batch it hands to its client)."""

    def __init__(self, seconds: float, renew: Callable[[], None] | None = None) -> None:
        self.seconds = seconds
        self._renew = renew

    def renew(self) -> None:
        if self._renew is not None:
            self._renew()


@contextlib.asynccontextmanager
async def read_only_transaction(
    conn: AsyncConnection, seconds: float, *, streaming: bool = False
) -> AsyncIterator[Deadline]:
    """A read-only transaction on `conn` (an engine of create_read_only_engine), each
    statement limited to `seconds`, always rolled back. `streaming` (a download): on MySQL
    the limit counts the whole stream, so it is lifted and the driver's silence bound
    remains; elsewhere the limit applies to each fetch (PostgreSQL) or is renewed per batch
    (SQLite)."""
    backend = backend_of(conn.dialect)
    transaction = await conn.begin()
    try:
        yield await _SETUP[backend](conn, seconds, streaming)
    finally:
        # A connection dropped inside (rows left unread) has nothing left to end.
        if not conn.invalidated:
            if transaction.is_active:
                await transaction.rollback()
            await _CLEANUP[backend](conn)


async def _setup_postgresql(conn: AsyncConnection, seconds: float, streaming: bool) -> Deadline:
    await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    milliseconds = str(max(1, int(seconds * 1000)))
    await conn.execute(
        text(
            "SELECT set_config('statement_timeout', :ms, true), "
            "set_config('idle_in_transaction_session_timeout', :idle, true)"
        ),
        {"ms": milliseconds, "idle": str(max(1, int(seconds * 1000)) * 3)},
    )
    return Deadline(seconds)


async def _setup_mysql(conn: AsyncConnection, seconds: float, streaming: bool) -> Deadline:
    variable = "max_statement_time" if is_mariadb(conn.dialect) else "max_execution_time"
    value: float = seconds if is_mariadb(conn.dialect) else int(seconds * 1000)
    await conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
    await conn.execute(
        text(f"SET SESSION {variable} = :value"), {"value": 0 if streaming else value}
    )
    await conn.exec_driver_sql("START TRANSACTION READ ONLY")
    return Deadline(seconds)


async def _setup_sqlite(conn: AsyncConnection, seconds: float, streaming: bool) -> Deadline:
    await conn.exec_driver_sql("PRAGMA query_only = ON")
    raw = await conn.get_raw_connection()
    sqlite_connection = raw.driver_connection._conn  # type: ignore[union-attr]
    ends_at = [time.monotonic() + seconds]

    def renew() -> None:
        ends_at[0] = time.monotonic() + seconds

    sqlite_connection.set_progress_handler(
        lambda: time.monotonic() > ends_at[0], SQLITE_PROGRESS_STEPS
    )
    return Deadline(seconds, renew)


async def _cleanup_sqlite(conn: AsyncConnection) -> None:
    if conn.invalidated:
        return
    raw = await conn.get_raw_connection()
    raw.driver_connection._conn.set_progress_handler(None, 0)  # type: ignore[union-attr]


async def _nothing(conn: AsyncConnection) -> None:
    return None


_SETUP = {"postgresql": _setup_postgresql, "mysql": _setup_mysql, "sqlite": _setup_sqlite}
_CLEANUP = {"postgresql": _nothing, "mysql": _nothing, "sqlite": _cleanup_sqlite}


def _driver_errors() -> tuple[type[BaseException], ...]:
    import asyncpg
    import pymysql

    return (
        SQLAlchemyError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        pymysql.Error,
        sqlite3.Error,
    )


# What a refused statement raises: SQLAlchemy's wrapped errors, and the drivers' own, which
# asyncpg's server-side cursors raise unwrapped.
STATEMENT_ERRORS = _driver_errors()


def explain_prefix(dialect: Dialect) -> str:
    """What is put before a statement to ask for its plan instead of its rows."""
    return "EXPLAIN QUERY PLAN " if backend_of(dialect) == "sqlite" else "EXPLAIN "
