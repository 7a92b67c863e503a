"""Everything that differs between MySQL/MariaDB, PostgreSQL and SQLite, behind small
functions selected by the backend name, so that no view or query builder asks which
database it is talking to."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import decimal
import functools
import hashlib
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
    case,
    cast,
    event,
    false,
    func,
    inspect,
    literal,
    text,
)
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.dialects import postgresql as postgresql_types
from sqlalchemy.dialects import sqlite as sqlite_types
from sqlalchemy.engine import URL, Connection, Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.util.concurrency import await_

from webapp.database import pg_text
from webapp.database.unreadable import NOT_UTF8, Undecodable
from webapp.settings import DatabaseSettings

MYSQL_IDLE_RECYCLE_SECONDS = 3600


def reads_get_own_engine(database: DatabaseSettings) -> bool:
    """Whether page views read through an engine of their own (`create_engine(reads=True)`):
    on MySQL, where ending a read-only transaction is a ROLLBACK round trip per request."""
    return database.backend == "mysql"


def create_engine(
    database: DatabaseSettings, *, reads: bool = False, console: bool = False
) -> AsyncEngine:
    """An engine with pool and driver options fit for serving web requests on `database`.
    `reads` (MySQL): read-only connections in autocommit mode, for page views, which only
    read. Each statement then ends its own transaction, so a connection goes back to the
    pool without the ROLLBACK round trip that ends a read otherwise (SQLAlchemy skips it only
    when the driver confirms autocommit). Multi-statement transactions (writes, accounts,
    audit) never use it. `console`: the SQL console's engine (read_only.py): exactly
    `pool_size` connections, which on MySQL run one statement per call."""
    options: dict[str, Any] = {
        "pool_pre_ping": pings_every_checkout(database, reads=reads),
        "pool_timeout": database.pool_timeout,
        # JSON is stored as people wrote it: "Malmö", not "Malm\\u00f6".
        "json_serializer": _json_dumps,
    }
    backend = database.backend
    if backend == "sqlite":
        options["connect_args"] = sqlite_wait_bounds(database)
        engine = create_async_engine(database.url, **options)
        event.listen(
            engine.sync_engine,
            "connect",
            functools.partial(_configure_sqlite_connection, database.lock_timeout),
        )
        event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
        return engine
    if console:
        options.update(pool_size=database.pool_size, max_overflow=0)
    elif reads:
        # Page views come in bursts: connections opened beyond the pool and closed again at
        # once cost a connect and sign-in each. The read pool keeps all of them instead.
        options.update(pool_size=2 * database.pool_size, max_overflow=0)
    else:
        options.update(pool_size=database.pool_size, max_overflow=database.pool_size)
    if backend == "mysql":
        options["pool_recycle"] = MYSQL_IDLE_RECYCLE_SECONDS
        options["connect_args"] = {
            "local_infile": False,
            "charset": "utf8mb4",
            **mysql_wait_bounds(database, single_statements=console),
        }
    else:
        options["connect_args"] = postgresql_wait_bounds(database)
        # What reading dates and intervals as PostgreSQL writes them needs (see pg_text).
        options["connect_args"]["server_settings"].update(pg_text.SESSION_SETTINGS)
    if reads and reads_get_own_engine(database):
        options.update(isolation_level="AUTOCOMMIT", skip_autocommit_rollback=True)
        # And read-only: a page view that tried to write would fail, never half-write.
        options["connect_args"]["init_command"] = "SET SESSION TRANSACTION READ ONLY"
    engine = create_async_engine(database.url, **options)
    if backend == "postgresql":
        event.listen(engine.sync_engine, "connect", _configure_postgresql_connection)
    if backend == "mysql":
        event.listen(
            engine.sync_engine,
            "connect",
            functools.partial(
                _limit_mysql_session, database.statement_timeout, database.lock_timeout
            ),
        )
    if not options["pool_pre_ping"]:
        event.listen(engine.sync_engine.pool, "checkin", _note_checkin)
        event.listen(
            engine.sync_engine.pool, "checkout", functools.partial(_ping_idle_connection, engine)
        )
    return engine


def pings_every_checkout(database: DatabaseSettings, *, reads: bool = False) -> bool:
    """Whether the pool pings a connection each time it hands it out. Not where page views
    check out (a round trip on every request): there only a connection that sat idle is
    pinged (_ping_idle_connection), one that died in between is noticed when used, and
    request_session.stale_connection_retry_middleware repeats the read. But the engine of
    writes when page views read through their own (MySQL): a write, which is never
    repeated, then never starts on a connection the server killed or dropped, at the cost
    of one ping per write request."""
    return reads_get_own_engine(database) and not reads


READ_MARGIN_SECONDS = 2.0
"""How much longer than the statement limit the driver waits for a silent server: a
statement the server cuts at its limit reports that within the margin, so silence past it
means the server (or the network to it) is gone."""

SESSION_STATEMENT_SECONDS = "webapp_statement_seconds"
"""Key in a MySQL connection's info: the statement limit its session was given at connect,
which `statement_time_limit` puts back."""


def read_timeout(database: DatabaseSettings) -> float:
    """Seconds the driver waits for any answer from the server before it gives up on the
    connection (503): the statement limit plus READ_MARGIN_SECONDS."""
    return database.statement_timeout + READ_MARGIN_SECONDS


def sqlite_wait_bounds(database: DatabaseSettings) -> dict[str, Any]:
    """aiosqlite's connect arguments: wait at most lock_timeout for another writer's lock
    (the PRAGMA busy_timeout of _configure_sqlite_connection says the same)."""
    return {"timeout": database.lock_timeout}


def postgresql_wait_bounds(database: DatabaseSettings) -> dict[str, Any]:
    """asyncpg's connect arguments: `timeout` bounds the whole connect (TCP, TLS, sign-in);
    the server cuts a statement at statement_timeout and a lock wait at lock_timeout; the
    driver gives up on a silent server at read_timeout (its command_timeout)."""
    return {
        "timeout": database.connect_timeout,
        "command_timeout": read_timeout(database),
        "server_settings": {
            "statement_timeout": str(_milliseconds(database.statement_timeout)),
            "lock_timeout": str(_milliseconds(database.lock_timeout)),
            "application_name": "webapp",
        },
    }


def mysql_wait_bounds(
    database: DatabaseSettings, single_statements: bool = False
) -> dict[str, Any]:
    """aiomysql's connect arguments: aiomysql's own connect_timeout covers the TCP connect
    only and it has no read timeout, so the connection is made by _connect_mysql_bounded,
    which bounds the whole connect and every read. The session's statement and lock limits
    are set by _limit_mysql_session."""
    return {
        "connect_timeout": max(1, int(database.connect_timeout)),
        "async_creator_fn": functools.partial(
            _connect_mysql_bounded,
            connect_seconds=database.connect_timeout,
            read_seconds=read_timeout(database),
            single_statements=single_statements,
        ),
    }


async def _connect_mysql_bounded(
    *args: Any,
    connect_seconds: float,
    read_seconds: float,
    single_statements: bool = False,
    **kwargs: Any,
) -> Any:
    """aiomysql.connect with the whole handshake bounded, and its reader made one that gives
    up after `read_seconds` of silence (as PyMySQL's read_timeout does): aiomysql then
    closes the connection and raises its 'Lost connection' error, a disconnect to
    SQLAlchemy. `single_statements`: the connection does not ask for the multi-statement
    capability aiomysql always asks for, so the server refuses `a; b` as a syntax error."""
    import aiomysql
    from pymysql.constants import CLIENT

    try:
        async with asyncio.timeout(connect_seconds):
            connection = aiomysql.Connection(*args, **kwargs)
            if single_statements:
                connection.client_flag &= ~CLIENT.MULTI_STATEMENTS
            await connection._connect()
    except TimeoutError:
        raise aiomysql.OperationalError(
            2003, f"Can't connect to MySQL server: no answer within {connect_seconds:g} s"
        ) from None
    reader = connection._reader
    reader.__class__ = _SilenceBoundReader
    reader.silence_seconds = read_seconds
    return connection


class _SilenceBoundReader(asyncio.StreamReader):
    """asyncio's StreamReader, but a read that waits for the server gives up (TimeoutError,
    an OSError) after `silence_seconds` without a byte. Only the wait is changed: bytes
    already received are handed out exactly as before, so reading the rows of a result
    costs nothing extra."""

    silence_seconds: float

    async def _wait_for_data(self, func_name: str) -> None:
        try:
            async with asyncio.timeout(self.silence_seconds):
                # Private to asyncio, so typeshed does not declare it.
                await super()._wait_for_data(func_name)  # type: ignore[misc]
        except TimeoutError:
            raise TimeoutError(f"the server sent nothing for {self.silence_seconds:g} s") from None


def _limit_mysql_session(
    statement_seconds: float, lock_seconds: float, dbapi_connection: Any, record: Any
) -> None:
    """Give a new MySQL connection's session its statement and lock-wait limits: MariaDB's
    max_statement_time (every statement) or MySQL's max_execution_time (SELECT only), and
    innodb_lock_wait_timeout (whole seconds)."""
    server = str(dbapi_connection.driver_connection.get_server_info())
    if "mariadb" in server.lower():
        limit = f"max_statement_time = {statement_seconds:.3f}"
    else:
        limit = f"max_execution_time = {_milliseconds(statement_seconds)}"
    lock = max(1, math.ceil(lock_seconds))
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"SET SESSION {limit}, SESSION innodb_lock_wait_timeout = {lock}")
    finally:
        cursor.close()
    record.info[SESSION_STATEMENT_SECONDS] = statement_seconds


def _milliseconds(seconds: float) -> int:
    return max(1, int(seconds * 1000))


IDLE_PING_SECONDS = 5.0
_IDLE_SINCE = "webapp_idle_since"


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[_IDLE_SINCE] = time.monotonic()


def _ping_idle_connection(
    engine: AsyncEngine, dbapi_connection: Any, record: Any, _proxy: Any
) -> None:
    """Ping a pooled connection that has been idle for a while before handing it out, so a
    database restart is noticed before a write starts; under load connections are reused
    within milliseconds and never pay for the ping. Raising DisconnectionError makes the
    pool replace the connection."""
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    try:
        alive = engine.dialect.do_ping(dbapi_connection)
    except Exception as exc:
        raise DisconnectionError(str(exc)) from exc
    if alive is False:
        raise DisconnectionError("the connection did not answer a ping")


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def backend_of(dialect: Dialect) -> str:
    """`mysql`, `postgresql` or `sqlite` for a SQLAlchemy dialect."""
    return "mysql" if dialect.name in ("mysql", "mariadb") else dialect.name


def is_mariadb(dialect: Dialect) -> bool:
    """Whether the server is MariaDB (not Oracle's MySQL), whatever the URL's scheme said."""
    return dialect.name == "mariadb" or bool(getattr(dialect, "is_mariadb", False))


def scan_orders(conn: Connection) -> dict[str, dict[tuple[str, ...], str]]:
    """Per InnoDB table of the current MariaDB database, the column orders in which one of
    its B-tree indexes keeps its entries (those that a keyset page can follow: the primary
    key; the indexed columns then the primary key, which InnoDB appends to every secondary
    index), each with the index's name; only whole-column, ascending indexes. Empty on
    other backends and engines, whose FULLTEXT (if any) tokenises differently."""
    if not is_mariadb(conn.dialect):
        return {}
    rows = conn.execute(
        text(
            "SELECT s.TABLE_NAME, s.INDEX_NAME, s.SEQ_IN_INDEX, s.COLUMN_NAME, s.COLLATION, "
            "s.SUB_PART, s.INDEX_TYPE FROM information_schema.STATISTICS s "
            "JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.TABLE_SCHEMA "
            "AND t.TABLE_NAME = s.TABLE_NAME "
            "WHERE s.TABLE_SCHEMA = DATABASE() AND t.ENGINE = 'InnoDB' "
            "ORDER BY s.TABLE_NAME, s.INDEX_NAME, s.SEQ_IN_INDEX"
        )
    ).all()
    columns_of: dict[tuple[str, str], list[str]] = {}
    unusable: set[tuple[str, str]] = set()
    for table, index, _, column, collation, sub_part, index_type in rows:
        columns_of.setdefault((table, index), []).append(column)
        if collation != "A" or sub_part is not None or index_type != "BTREE":
            unusable.add((table, index))
    keys = {
        table: columns
        for (table, index), columns in columns_of.items()
        if index == "PRIMARY" and (table, index) not in unusable
    }
    orders = {table: {tuple(key): "PRIMARY"} for table, key in keys.items()}
    for (table, index), columns in columns_of.items():
        key = keys.get(table)
        if key is not None and index != "PRIMARY" and (table, index) not in unusable:
            order = (*columns, *(name for name in key if name not in columns))
            orders[table].setdefault(order, index)
    return orders


def describe_url(url: URL) -> str:
    """The URL without its password, for messages a user will read."""
    return url.render_as_string(hide_password=True)


def _configure_postgresql_connection(dbapi_connection: Any, _record: Any) -> None:
    """Dates, timestamps, times and intervals decoded as PostgreSQL means them (pg_text)."""
    await_(pg_text.install_text_codecs(dbapi_connection._connection))


def _configure_sqlite_connection(lock_seconds: float, dbapi_connection: Any, _record: Any) -> None:
    """WAL so readers never wait on a writer, foreign keys enforced, a busy timeout so that
    concurrent writers queue (up to `lock_seconds`) instead of failing with 'database is
    locked' at once; past it the request answers 503 (failures.is_unavailable). The driver's own
    transaction handling is switched off: `_begin_sqlite_transaction` says BEGIN itself."""
    dbapi_connection.isolation_level = None
    dbapi_connection._connection.text_factory = sqlite_text
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_milliseconds(lock_seconds)}")
    finally:
        cursor.close()


def sqlite_text(data: bytes) -> Any:
    """A TEXT value from SQLite, which stores whatever bytes it was given: text that is not
    UTF-8 is marked unreadable (shown as stored) instead of failing the whole statement."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return Undecodable(data, NOT_UTF8)


WRITE_TRANSACTION = "webapp_write_transaction"
"""Execution option marking a connection whose transaction will write (see writes.py)."""


def _begin_sqlite_transaction(conn: Any) -> None:
    """SQLAlchemy's recipe for SQLite transactions: a writing transaction starts with BEGIN
    IMMEDIATE, so it takes the write lock (queueing behind the busy timeout) before it reads
    the row it checks; a deferred BEGIN would fail with 'database is locked' when a read
    snapshot is upgraded after another writer committed."""
    immediate = conn.get_execution_options().get(WRITE_TRANSACTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def database_fills(column: Column, dialect: Dialect) -> bool:
    """Whether the database makes this column's value on insert (auto-increment, identity,
    generated), so a create form leaves it out."""
    if column.computed is not None or column.identity is not None:
        return True
    if backend_of(dialect) == "sqlite":
        # INTEGER PRIMARY KEY is the rowid: SQLite numbers it when it is left out.
        return column is column.table.autoincrement_column and column.type.python_type is int
    if backend_of(dialect) == "postgresql":
        default = column.server_default
        return (
            column.primary_key
            and default is not None
            and "nextval(" in str(getattr(default, "arg", ""))
        )
    return column.autoincrement is True


class SQLiteDecimal(TypeDecorator[decimal.Decimal]):
    """A DECIMAL column of SQLite, which stores it as an 8-byte float: read back as the
    shortest decimal that is that float (at the declared scale), not the float's binary
    expansion, so that 12345.6789012345 reads as it was written."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int | None = None, scale: int | None = None) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=False)
        self.declared_scale = scale

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return float(value) if isinstance(value, decimal.Decimal) else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or isinstance(value, decimal.Decimal):
            return value
        try:
            exact = decimal.Decimal(repr(value) if isinstance(value, float) else str(value))
        except decimal.InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
        if self.declared_scale and exact.is_finite():
            exact = decimal.Decimal(format(exact, f".{self.declared_scale}f"))
        return exact

    @property
    def python_type(self) -> type:
        return decimal.Decimal


class SQLiteBoolean(TypeDecorator[bool]):
    """A BOOLEAN column of SQLite, which may hold anything: 0 and 1 read as false and true,
    any other value as it is stored (SQLAlchemy's Boolean would read 'maybe' or 2 as true),
    and written back as it is."""

    impl = Boolean
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: Any) -> Any:
            return int(value) if isinstance(value, bool) else value

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            if type(value) is int and value in (0, 1):
                return bool(value)
            return value

        return process

    @property
    def python_type(self) -> type:
        return bool


def _without_zero_microseconds(processor: Any) -> Any:
    """A SQLite date-time bind processor that writes '.000000' only when the value has
    microseconds, so that '10:00:00' written back stays '10:00:00'."""

    def process(value: Any) -> Any:
        written = processor(value)
        if isinstance(written, str) and not getattr(value, "microsecond", 1):
            return written.removesuffix(".000000")
        return written

    return process


class SQLiteDateTime(sqlite_types.DATETIME):
    """SQLite's DATETIME, written without zero microseconds (see above)."""

    def bind_processor(self, dialect: Dialect) -> Any:
        return _without_zero_microseconds(super().bind_processor(dialect))


class SQLiteTime(sqlite_types.TIME):
    """SQLite's TIME, written without zero microseconds (see above)."""

    def bind_processor(self, dialect: Dialect) -> Any:
        return _without_zero_microseconds(super().bind_processor(dialect))


class MySQLDuration(mysql_types.TIME):
    """MySQL's TIME, a duration from -838:59:59 to 838:59:59: read as the driver's
    timedelta (SQLAlchemy's TIME wraps it into one day) and written as its exact text (the
    driver writes a negative timedelta wrongly)."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: Any) -> Any:
            return duration_literal(value) if isinstance(value, dt.timedelta) else value

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        return None


def duration_literal(value: dt.timedelta) -> str:
    """A duration as MySQL writes a TIME: [-]HH:MM:SS[.ffffff], hours past 24 as they are."""
    sign = "-" if value < dt.timedelta(0) else ""
    seconds, micro = divmod(abs(value) // dt.timedelta(microseconds=1), 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{sign}{hour:02d}:{minute:02d}:{second:02d}" + (f".{micro:06d}" if micro else "")


def adapt_reflected_type(column: Column, dialect: Dialect) -> None:
    """Give a reflected column a type that reads its values exactly on this backend."""
    type_ = column.type
    if backend_of(dialect) == "sqlite" and isinstance(type_, DateTime):
        column.type = SQLiteDateTime()
        return
    if backend_of(dialect) == "sqlite" and isinstance(type_, Time):
        column.type = SQLiteTime()
        return
    if backend_of(dialect) == "mysql" and type(type_) is mysql_types.TIME:
        column.type = MySQLDuration(fsp=type_.fsp)
        return
    mysql_floats = (mysql_types.DOUBLE, mysql_types.REAL, mysql_types.FLOAT)
    if backend_of(dialect) == "mysql" and isinstance(type_, mysql_floats) and type_.asdecimal:
        # DOUBLE and REAL read as the driver's float: SQLAlchemy's Decimal of one keeps
        # ten places (5e-324 reads as 0), and writing it back changes the value.
        column.type = type(type_)(
            precision=type_.precision,
            scale=type_.scale,
            asdecimal=False,
            unsigned=getattr(type_, "unsigned", False),
            zerofill=getattr(type_, "zerofill", False),
        )
        return
    if backend_of(dialect) == "sqlite" and isinstance(type_, Boolean):
        column.type = SQLiteBoolean()
        return
    if (
        backend_of(dialect) == "sqlite"
        and isinstance(type_, Numeric)
        and not isinstance(type_, Float)
        and type_.asdecimal
    ):
        column.type = SQLiteDecimal(type_.precision, type_.scale)
    elif isinstance(type_, postgresql_types.DOMAIN):
        # A domain's values are its base type's; the database checks its constraints.
        column.type = type_.data_type


def reflected_column_name(name: str, dialect: Dialect) -> str:
    """A column's real name from what reflection returned: MySQL's table definitions double
    a backtick inside a quoted name, and SQLAlchemy's parser leaves it doubled."""
    if backend_of(dialect) == "mysql":
        return name.replace("``", "`")
    return name


def unparsed_foreign_keys(
    conn: Connection,
) -> list[tuple[str, tuple[str, ...], str, tuple[str, ...]]]:
    """Foreign keys of the default schema that SQLAlchemy's reflection misses, as (table,
    columns, referenced table, referenced columns): on MySQL, those referencing a table
    whose name holds a backtick (its reader of table definitions skips them)."""
    if backend_of(conn.dialect) != "mysql":
        return []
    rows = conn.execute(
        text(
            "SELECT constraint_name, table_name, column_name, referenced_table_name, "
            "referenced_column_name FROM information_schema.key_column_usage "
            "WHERE table_schema = DATABASE() AND referenced_table_schema = DATABASE() "
            "AND referenced_table_name LIKE '%`%' "
            "ORDER BY table_name, constraint_name, ordinal_position"
        )
    ).all()
    keys: dict[tuple[str, str], tuple[str, list[str], list[str]]] = {}
    for constraint, table, column, target, target_column in rows:
        _, columns, target_columns = keys.setdefault(
            (str(table), str(constraint)), (str(target), [], [])
        )
        columns.append(str(column))
        target_columns.append(str(target_column))
    return [
        (table, tuple(columns), target, tuple(target_columns))
        for (table, _), (target, columns, target_columns) in keys.items()
    ]


def browsable_schemas(conn: Connection) -> list[str]:
    """The schemas besides the default one whose tables and views the catalog holds:
    PostgreSQL's own that the user may use (not its system schemas). On MySQL a schema is
    another database and on SQLite an attached one; neither is browsed."""
    if backend_of(conn.dialect) != "postgresql":
        return []
    rows = conn.execute(
        text(
            "SELECT nspname FROM pg_namespace WHERE nspname <> current_schema() "
            "AND nspname <> 'information_schema' AND nspname NOT LIKE 'pg~_%' ESCAPE '~' "
            "AND has_schema_privilege(oid, 'USAGE') ORDER BY nspname"
        )
    )
    return [str(name) for (name,) in rows]


def column_distinct_counts(
    conn: Connection,
) -> dict[tuple[str | None, str], dict[str, tuple[float, float]]]:
    """About how many distinct values each column holds and over how many rows, by (schema,
    None for the default one; table), from what the engine's statistics already know:
    PostgreSQL's pg_stats (every analysed column), MySQL's index cardinalities and SQLite's
    sqlite_stat1 (columns leading an index, once analysed). Nothing is counted here."""
    backend = backend_of(conn.dialect)
    if backend == "postgresql":
        rows = conn.execute(
            text(
                "SELECT CASE WHEN s.schemaname = current_schema() THEN NULL "
                "ELSE s.schemaname END, s.tablename, s.attname, s.n_distinct, c.reltuples "
                "FROM pg_stats s JOIN pg_namespace n ON n.nspname = s.schemaname "
                "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename "
                "WHERE s.schemaname <> 'information_schema' "
                "AND s.schemaname NOT LIKE 'pg~_%' ESCAPE '~' AND c.reltuples > 0"
            )
        ).all()
        found = [
            (schema, table, column, distinct if distinct >= 0 else -distinct * tuples, tuples)
            for schema, table, column, distinct, tuples in rows
        ]
    elif backend == "mysql":
        rows = conn.execute(
            text(
                "SELECT s.table_name, s.column_name, s.cardinality, t.table_rows "
                "FROM information_schema.statistics s JOIN information_schema.tables t "
                "ON t.table_schema = s.table_schema AND t.table_name = s.table_name "
                "WHERE s.table_schema = DATABASE() AND s.seq_in_index = 1 "
                "AND s.sub_part IS NULL AND s.cardinality IS NOT NULL AND t.table_rows > 0"
            )
        ).all()
        found = [(None, table, column, count, tuples) for table, column, count, tuples in rows]
    else:
        found = _sqlite_distinct_counts(conn)
    out: dict[tuple[str | None, str], dict[str, tuple[float, float]]] = {}
    for schema, table, column, distinct, tuples in found:
        counts = out.setdefault((schema, str(table)), {})
        counts[str(column)] = (float(distinct), float(tuples))
    return out


def _sqlite_distinct_counts(conn: Connection) -> list[tuple[None, str, str, float, float]]:
    """From sqlite_stat1 ("rows, then rows per distinct value of the index's first
    column, ..."), which exists once ANALYZE has run."""
    try:
        rows = conn.execute(
            text(
                "SELECT s.tbl, i.name, s.stat FROM sqlite_stat1 s, pragma_index_info(s.idx) i "
                "WHERE i.seqno = 0"
            )
        ).all()
    except DBAPIError:
        return []
    found = []
    for table, column, stat in rows:
        parts = str(stat).split()
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() and int(parts[1]):
            total = float(parts[0])
            found.append((None, str(table), str(column), total / int(parts[1]), total))
    return found


def materialized_view_names(conn: Connection, schema: str | None) -> list[str]:
    """PostgreSQL's materialized views in `schema` (None: the default one), which
    `get_view_names` leaves out; other backends have none."""
    if backend_of(conn.dialect) != "postgresql":
        return []
    return list(inspect(conn).get_materialized_view_names(schema))


def unreadable_relations(conn: Connection, schema: str | None) -> dict[str, str]:
    """Tables and views in `schema` (None: the default one) whose rows cannot be read, with
    the reason: on PostgreSQL, those the user may not SELECT from, and materialized views
    created WITH NO DATA and not refreshed since. Other backends list only what the user
    may read."""
    if backend_of(conn.dialect) != "postgresql":
        return {}
    rows = conn.execute(
        text(
            "SELECT c.relname, has_table_privilege(c.oid, 'SELECT') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "AND n.nspname = COALESCE(CAST(:schema AS text), current_schema()) "
            "AND (NOT has_table_privilege(c.oid, 'SELECT') "
            "OR (c.relkind = 'm' AND NOT c.relispopulated))"
        ),
        {"schema": schema},
    )
    return {
        str(name): (
            "a materialized view not populated yet (REFRESH MATERIALIZED VIEW fills it)"
            if selectable
            else "you may not read it (no SELECT privilege)"
        )
        for name, selectable in rows
    }


def partition_names(conn: Connection, schema: str | None) -> set[str]:
    """The tables in `schema` that are partitions of a PostgreSQL partitioned table: their
    rows are the parent's, which the catalog lists instead."""
    if backend_of(conn.dialect) != "postgresql":
        return set()
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relispartition "
            "AND n.nspname = COALESCE(CAST(:schema AS text), current_schema())"
        ),
        {"schema": schema},
    )
    return {str(name) for (name,) in rows}


def time_is_duration(dialect: Dialect) -> bool:
    """Whether TIME holds a duration beyond one day (MySQL: up to 838:59:59)."""
    return backend_of(dialect) == "mysql"


def has_zero_dates(dialect: Dialect) -> bool:
    """Whether a date may hold zero parts ('0000-00-00', '2024-01-00'): MySQL keeps them
    where its SQL mode allows, and compares a date with such text."""
    return backend_of(dialect) == "mysql"


def has_special_values(dialect: Dialect) -> bool:
    """Whether numbers may be NaN or infinite and dates `infinity` (PostgreSQL)."""
    return backend_of(dialect) == "postgresql"


def has_infinite_floats(dialect: Dialect) -> bool:
    """Whether a float column may hold +/-Infinity without NaN (SQLite's REAL; PostgreSQL
    has both, see has_special_values)."""
    return backend_of(dialect) == "sqlite"


def integers_are_64_bit(dialect: Dialect) -> bool:
    """Whether every integer column holds 64-bit values whatever its declared size (SQLite's
    INTEGER)."""
    return backend_of(dialect) == "sqlite"


def decimal_digit_limit(dialect: Dialect) -> int | None:
    """How many significant digits a DECIMAL column keeps exactly; None if it keeps all it
    declares. SQLite stores decimals as 8-byte floats, exact to 15 digits."""
    return 15 if backend_of(dialect) == "sqlite" else None


async def table_row_estimates(conn: AsyncConnection, only: str | None = None) -> dict[str, int]:
    """Row counts from the engine's statistics, by the catalog's table name (all tables, or
    `only` that one): cheap and possibly stale. Tables the statistics know nothing about are
    absent."""
    backend = backend_of(conn.dialect)
    params = {"only": only}
    if backend == "mysql":
        result = await conn.execute(
            text(
                "SELECT table_name, table_rows FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' "
                "AND (:only IS NULL OR table_name = :only)"
            ),
            params,
        )
        return {str(name): int(rows) for name, rows in result if rows is not None}
    if backend == "postgresql":
        result = await conn.execute(
            text(
                "SELECT t.name, t.reltuples FROM (SELECT CASE WHEN n.nspname = current_schema() "
                "THEN c.relname ELSE n.nspname || '.' || c.relname END AS name, "
                "c.reltuples::bigint AS reltuples FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition "
                "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg~_%' ESCAPE '~'"
                ") t WHERE CAST(:only AS text) IS NULL OR t.name = :only"
            ),
            params,
        )
        # reltuples is -1 for a table never vacuumed or analyzed: unknown, not empty.
        return {str(name): int(rows) for name, rows in result if rows is not None and rows >= 0}
    return await _sqlite_stat_estimates(conn, only)


async def _sqlite_stat_estimates(conn: AsyncConnection, only: str | None) -> dict[str, int]:
    """SQLite keeps no live row counts; the largest rowid is a cheap upper estimate (one
    b-tree descent), exact for tables that were never deleted from."""
    names = await conn.scalars(
        text(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite~_%' ESCAPE '~' AND (:only IS NULL OR name = :only)"
        ),
        {"only": only},
    )
    estimates: dict[str, int] = {}
    for name in list(names):
        quoted = conn.dialect.identifier_preparer.quote(name)
        try:
            value = await conn.scalar(text(f"SELECT max(rowid) FROM {quoted}"))
        except DBAPIError:
            continue  # a WITHOUT ROWID table: no cheap estimate
        estimates[str(name)] = int(value or 0)
    return estimates


# SQLite virtual machine steps between two looks at the clock during a time-limited statement.
SQLITE_PROGRESS_STEPS = 10_000


@contextlib.asynccontextmanager
async def statement_time_limit(conn: AsyncConnection, seconds: float) -> AsyncIterator[None]:
    """Let the statements run inside the block take at most `seconds`; past that they fail
    with an error `is_timeout` recognises, and the connection stays usable. On MySQL and
    PostgreSQL the driver gives up on a silent server at read_timeout (the engine's
    statement_timeout plus a margin), so `seconds` beyond the engine's limit does not help."""
    backend = backend_of(conn.dialect)
    if backend == "postgresql":
        async with conn.begin_nested() if conn.in_transaction() else conn.begin():
            # A local setting outlives a released savepoint: put the previous value back.
            # (PostgreSQL evaluates a select list left to right: the old value, then the new.)
            previous = await conn.scalar(
                text(
                    "SELECT current_setting('statement_timeout'), "
                    "set_config('statement_timeout', :ms, true)"
                ),
                {"ms": str(max(1, int(seconds * 1000)))},
            )
            yield
            await conn.execute(
                text("SELECT set_config('statement_timeout', :previous, true)"),
                {"previous": previous},
            )
        return
    if backend == "mysql":
        # Afterwards the session's own limit (set at connect) applies again.
        session_seconds = conn.info.get(SESSION_STATEMENT_SECONDS, 0)
        if is_mariadb(conn.dialect):
            await conn.execute(text("SET SESSION max_statement_time = :s"), {"s": seconds})
            reset = text("SET SESSION max_statement_time = :s").bindparams(s=session_seconds)
        else:
            await conn.execute(
                text("SET SESSION max_execution_time = :ms"), {"ms": int(seconds * 1000)}
            )
            reset = text("SET SESSION max_execution_time = :ms").bindparams(
                ms=int(session_seconds * 1000)
            )
        try:
            yield
        finally:
            await conn.execute(reset)
        return
    driver_connection = (await conn.get_raw_connection()).driver_connection
    assert driver_connection is not None  # a checked-out connection always has one
    sqlite_connection = driver_connection._conn  # the sqlite3 connection aiosqlite wraps
    # A progress handler, not a timer calling interrupt(): an interrupt that arrives between
    # two statements is lost, a deadline checked while a statement runs is not.
    deadline = time.monotonic() + seconds
    sqlite_connection.set_progress_handler(
        lambda: time.monotonic() > deadline, SQLITE_PROGRESS_STEPS
    )
    try:
        yield
    finally:
        sqlite_connection.set_progress_handler(None, 0)


@contextlib.asynccontextmanager
async def streaming_statement(conn: AsyncConnection) -> AsyncIterator[None]:
    """Let a statement whose rows are streamed to a client (a download) run as long as the
    client keeps taking them: its bound is progress, not total time. MySQL counts the whole
    stream against the session's statement limit, so that is lifted for the block (a silent
    server is still noticed by the driver's read timeout); elsewhere each fetch of a
    server-side cursor is its own statement and keeps the limit."""
    if backend_of(conn.dialect) != "mysql":
        yield
        return
    variable = "max_statement_time" if is_mariadb(conn.dialect) else "max_execution_time"
    await conn.execute(text(f"SET SESSION {variable} = 0"))
    try:
        yield
    finally:
        # A stream that stopped early dropped its connection: nothing to put back then.
        if not conn.invalidated:
            session_seconds = conn.info.get(SESSION_STATEMENT_SECONDS, 0)
            value = session_seconds if is_mariadb(conn.dialect) else int(session_seconds * 1000)
            await conn.execute(text(f"SET SESSION {variable} = :value"), {"value": value})


def is_timeout(exc: BaseException) -> bool:
    """Whether a database error is a statement cut short by `statement_time_limit`."""
    message = str(getattr(exc, "orig", exc)).lower()
    return any(
        marker in message
        for marker in (
            "max_statement_time",
            "max_execution_time",
            "statement timeout",
            "canceling statement",
            "interrupted",
            "query execution was interrupted",
        )
    )


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether a database error is a lock wait that timed out or a deadlock the database
    broke: the statement's transaction was refused, and the same change may succeed when
    tried again."""
    error = getattr(exc, "orig", exc)
    args = getattr(error, "args", ())
    if args and args[0] in (1205, 1213):  # MySQL/MariaDB: lock wait timeout, deadlock
        return True
    if getattr(error, "sqlstate", None) in ("40P01", "55P03"):  # PostgreSQL
        return True
    message = str(error).lower()
    return any(
        marker in message
        for marker in (
            "deadlock",
            "lock wait timeout",
            "lock timeout",
            "could not obtain lock",
            "database is locked",
        )
    )


def binary_length(column: ColumnElement[Any], dialect: Dialect) -> ColumnElement[int]:
    """The size in bytes of a binary value, computed in the database."""
    if backend_of(dialect) == "postgresql":
        return func.octet_length(column)
    return func.length(column)


def text_head(
    source: ColumnElement[Any], chars: int, dialect: Dialect | None
) -> ColumnElement[Any]:
    """The first `chars` characters of a text, cut in the database. SQLite's substr stops
    at a NUL character, so there a text holding one comes whole (the caller cuts it): it
    is rare, and a cut there would show a different value than the one stored."""
    head = func.substr(source, 1, chars)
    if dialect is None or backend_of(dialect) != "sqlite":
        return head
    has_nul = func.instr(cast(source, LargeBinary), literal(b"\x00", LargeBinary)) > 0
    return case((has_nul, source), else_=head)


def text_form(column: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any]:
    """A value of a type SQLAlchemy does not know, in a form the driver can return.
    PostgreSQL and SQLite cast anything to text; MySQL refuses that for spatial types, and
    its driver returns unknown types as bytes or text anyway."""
    if backend_of(dialect) == "mysql":
        return column
    return cast(column, Text)


def date_text_form(column: Column, dialect: Dialect) -> ColumnElement[Any] | None:
    """A DATE, or DATETIME/TIMESTAMP without fractional seconds, as the text the list shows
    ('2024-05-01 13:45:00', what Python's isoformat writes), on MySQL, where the database
    writes it faster than the driver parses it into a datetime for the app to write back;
    None elsewhere or for other types."""
    if backend_of(dialect) != "mysql":
        return None
    type_ = column.type
    if isinstance(type_, mysql_types.DATETIME | mysql_types.TIMESTAMP):
        return None if type_.fsp else cast(column, String)
    if isinstance(type_, Date) and not isinstance(type_, DateTime):
        return cast(column, String)
    return None


LIKE_ESCAPE = "!"


def escape_like(text: str) -> str:
    """User text made literal inside a LIKE pattern: its % and _ match only themselves."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def text_like(column: ColumnElement[Any], pattern: str, dialect: Dialect) -> ColumnElement[bool]:
    """`column LIKE pattern` (pattern already escaped), ignoring case as people expect:
    ILIKE on PostgreSQL, `lower(column) LIKE lower(pattern)` elsewhere, since a MySQL column
    with a binary (`_bin`) collation would otherwise match case-sensitively. A LIKE with a
    leading % scans anyway, so lower() costs no index. SQLite's LIKE ends a pattern at its
    first NUL (matching far too much), so such a pattern finds nothing there."""
    if not can_hold(column, pattern, dialect):
        return false()
    if backend_of(dialect) == "sqlite" and "\x00" in pattern:
        return false()
    return column.ilike(pattern, escape=LIKE_ESCAPE)


def equals(column: ColumnElement[Any], value: Any, dialect: Dialect) -> ColumnElement[bool]:
    """`column = value`, or FALSE when the column cannot hold `value` at all (see
    can_hold), so the statement finds nothing instead of being refused."""
    return column == value if can_hold(column, value, dialect) else false()


def can_hold(column: ColumnElement[Any], value: Any, dialect: Dialect) -> bool:
    """Whether a value of `column` could equal or contain `value`. Databases refuse to
    compare one they could never store (an error, not an answer): PostgreSQL text holds no
    NUL and its integers have the width of their type; a MySQL column holds only the
    characters of its character set; SQLite integers have 64 bits."""
    if isinstance(value, str):
        return _text_fits(column, value, backend_of(dialect))
    if isinstance(value, bool):
        return True
    backend = backend_of(dialect)
    if isinstance(value, int) and isinstance(column.type, Integer):
        bits = _integer_bits(column.type, backend)
        return bits is None or -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)
    if isinstance(value, int | decimal.Decimal) and backend == "postgresql":
        return _fits_numeric(column.type, decimal.Decimal(value))
    return True


def _fits_numeric(type_: Any, value: decimal.Decimal) -> bool:
    """PostgreSQL casts a bound number to its column's NUMERIC(p, s), which overflows (an
    error) for one with more than p - s whole digits or an infinite one; NaN it holds."""
    precision = getattr(type_, "precision", None)
    if not isinstance(type_, Numeric) or isinstance(type_, Float) or not precision:
        return True
    if value.is_nan():
        return True
    scale = getattr(type_, "scale", None) or 0
    if value.is_infinite() or value.adjusted() > precision - scale:
        return False
    rounded = value.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP)
    return rounded.adjusted() < precision - scale if rounded else True


# MySQL character sets by the Python codec that holds the same characters (MySQL's latin1
# is Windows-1252); a character set not named here is taken to hold every character.
MYSQL_CHARSET_CODECS = {
    "ascii": "ascii",
    "latin1": "cp1252",
    "latin2": "iso8859_2",
    "latin5": "iso8859_9",
    "latin7": "iso8859_13",
    "greek": "iso8859_7",
    "hebrew": "iso8859_8",
    "cp1250": "cp1250",
    "cp1251": "cp1251",
    "cp1256": "cp1256",
    "cp1257": "cp1257",
    "cp850": "cp850",
    "cp852": "cp852",
    "cp866": "cp866",
    "koi8r": "koi8_r",
    "koi8u": "koi8_u",
    "macroman": "mac_roman",
    "macce": "mac_latin2",
    "tis620": "tis_620",
    "sjis": "shift_jis",
    "cp932": "cp932",
    "ujis": "euc_jp",
    "eucjpms": "euc_jp",
    "euckr": "euc_kr",
    "gb2312": "gb2312",
    "gbk": "gbk",
    "big5": "big5",
}
# Character sets of the Basic Multilingual Plane only (no emoji).
MYSQL_BMP_CHARSETS = frozenset({"utf8", "utf8mb3", "ucs2"})
# The five bytes Windows-1252 leaves undefined, which MySQL's latin1 maps to C1 controls.
LATIN1_EXTRA = frozenset("\x81\x8d\x8f\x90\x9d")


def _text_fits(column: ColumnElement[Any], text: str, backend: str) -> bool:
    if backend == "postgresql":
        return "\x00" not in text
    if backend != "mysql" or text.isascii():
        return True
    charset = _mysql_charset(column)
    if charset in MYSQL_BMP_CHARSETS:
        return all(ord(character) <= 0xFFFF for character in text)
    codec = MYSQL_CHARSET_CODECS.get(charset or "")
    if codec is None:
        return True
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        if charset != "latin1":
            return False
        return all(c in LATIN1_EXTRA or c.encode(codec, "ignore") for c in text)
    return True


def _mysql_charset(column: ColumnElement[Any]) -> str | None:
    """A reflected MySQL column's character set: its own, else its table's default."""
    charset = getattr(column.type, "charset", None)
    table = getattr(column, "table", None)
    if charset is None and table is not None and hasattr(table, "dialect_options"):
        charset = table.dialect_options["mysql"].get("default charset")
    return str(charset).lower() if charset else None


def _integer_bits(type_: Any, backend: str) -> int | None:
    """The width of an integer column, where comparing beyond it is an error."""
    if backend == "sqlite":
        return 64
    if backend != "postgresql":
        return None
    if isinstance(type_, BigInteger):
        return 64
    if isinstance(type_, SmallInteger):
        return 16
    return 32 if isinstance(type_, Integer) else 64


# MySQL/MariaDB: ER_NO_SUCH_TABLE, ER_BAD_FIELD_ERROR.
_MYSQL_UNKNOWN_NAME_CODES = frozenset({1146, 1054})
# PostgreSQL: undefined_table, undefined_column.
_POSTGRESQL_UNKNOWN_NAME_STATES = frozenset({"42P01", "42703"})
_UNKNOWN_NAME_MESSAGES = (
    "no such table",  # SQLite
    "no such column",  # SQLite
    # PostgreSQL, after a table's columns changed under a statement asyncpg had prepared.
    "cached statement plan is invalid",
    "cached plan must not change result type",
)


def is_schema_mismatch(exc: BaseException) -> bool:
    """Whether a database error says a statement named a table or column the database does
    not have (any more): the sign that the catalog is out of step with the schema."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return False
    states = {getattr(orig, "sqlstate", None), getattr(orig.__cause__, "sqlstate", None)}
    if states & _POSTGRESQL_UNKNOWN_NAME_STATES:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_UNKNOWN_NAME_CODES:
        return True
    message = str(orig).lower()
    return any(marker in message for marker in _UNKNOWN_NAME_MESSAGES)


async def schema_fingerprint(conn: AsyncConnection, hidden_prefix: str | None) -> str:
    """A short digest of the tables, views and columns the catalog reflects (names, types,
    keys), from the database's own dictionary in one cheap query: it changes when a table or
    column is added, renamed, dropped or retyped. Tables named with `hidden_prefix` (the
    app's own) are left out."""
    backend = backend_of(conn.dialect)
    params = {"prefix": (hidden_prefix or "").lower(), "n": len(hidden_prefix or "")}
    if backend == "mysql":
        row = (
            await conn.execute(
                text(
                    "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', table_name, "
                    "column_name, column_type, ordinal_position, column_key))), 0) "
                    "FROM information_schema.columns WHERE table_schema = DATABASE() "
                    "AND (:n = 0 OR LOWER(LEFT(table_name, :n)) <> :prefix)"
                ),
                params,
            )
        ).one()
        return f"{row[0]}:{row[1]}"
    if backend == "postgresql":
        row = (
            await conn.execute(
                text(
                    "SELECT count(*), md5(coalesce(string_agg(n.nspname || '.' || c.relname "
                    "|| '.' || c.relkind::text || '.' || a.attname || ':' || "
                    "format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull::text, ',' "
                    "ORDER BY n.nspname, c.relname, a.attnum), '')) "
                    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE a.attnum > 0 AND NOT a.attisdropped "
                    "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
                    "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg~_%' "
                    "ESCAPE '~' AND (CAST(:n AS integer) = 0 "
                    "OR lower(left(c.relname::text, CAST(:n AS integer))) <> CAST(:prefix AS text))"
                ),
                params,
            )
        ).one()
        return f"{row[0]}:{row[1]}"
    rows = await conn.execute(
        text(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite~_%' ESCAPE '~' "
            "AND (:n = 0 OR lower(substr(tbl_name, 1, :n)) <> :prefix) ORDER BY type, name"
        ),
        params,
    )
    digest = hashlib.sha256()
    for kind, name, sql in rows:
        digest.update(f"{kind}\x1f{name}\x1f{sql}\x1e".encode())
    return digest.hexdigest()


def table_ddl(conn: Connection, schema: str | None, name: str, is_view: bool) -> str:
    """A table's or view's definition in the database's own words: MySQL's SHOW CREATE
    TABLE, SQLite's statements kept in sqlite_master (the table's, then its indexes' and
    triggers'); PostgreSQL keeps none, so its is rebuilt from the reflected table (columns,
    defaults, constraints, then each index) or, for a view, pg_get_viewdef."""
    backend = backend_of(conn.dialect)
    preparer = conn.dialect.identifier_preparer
    qualified = preparer.quote(name)
    if schema is not None:
        qualified = f"{preparer.quote_schema(schema)}.{qualified}"
    if backend == "mysql":
        row = conn.execute(text(f"SHOW CREATE TABLE {qualified}")).one()
        return str(row[1])
    if backend == "sqlite":
        rows = conn.execute(
            text(
                "SELECT sql FROM sqlite_master WHERE tbl_name = :name AND sql IS NOT NULL"
                " ORDER BY type NOT IN ('table', 'view'), type, name"
            ),
            {"name": name},
        ).all()
        return ";\n".join(str(row[0]) for row in rows) + ";"
    if is_view:
        definition = conn.execute(
            text("SELECT pg_get_viewdef(CAST(:name AS regclass), true)"), {"name": qualified}
        ).scalar_one()
        return f"CREATE VIEW {qualified} AS\n{definition}"
    table = Table(name, MetaData(), schema=schema, autoload_with=conn)
    statements = [str(CreateTable(table).compile(dialect=conn.dialect)).strip()]
    statements += [
        str(CreateIndex(index).compile(dialect=conn.dialect)).strip()
        for index in sorted(table.indexes, key=lambda index: str(index.name))
    ]
    return ";\n".join(statements) + ";"
