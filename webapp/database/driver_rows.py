"""The table page's statement run straight on the driver's connection (aiomysql, the primary
target), without SQLAlchemy's per-execution work: execution context, result bookkeeping, a
greenlet switch, a Row object per row. That work is most of what the stack adds to a page
of 50 rows (bench/run.py compares the app's pages with a bare driver's).

The SQL is still SQLAlchemy's: compiled once per statement shape (its cache key) for the
connection's dialect, every request value a bound parameter, converted with the bind and
result processors SQLAlchemy would apply. The ordinary way (`decoding.fetch_rows`) is taken
whenever anything could tell the difference: another driver, parameters that expand at
execution (IN lists), SQL echo, or any listener on the engine's execution events (a tracer,
a test counting statements), so whatever watches SQLAlchemy sees every statement. A driver
error also goes the ordinary way, which raises it as SQLAlchemy's and looks after the
connection (invalidating it when the server is gone)."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from webapp.database.decoding import DECODE_ERRORS, Undecodable, fetch_rows
from webapp.database.trace import tracing_wanted, watched_by_trace_only

DIRECT_DRIVERS = frozenset({"aiomysql"})
MAX_SHAPES = 512

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class Prepared:
    """One statement shape, compiled: the SQL, which compiled parameter goes where, and the
    converters of parameters and result columns (None: the value is used as it is)."""

    sql: str
    parameter_names: tuple[str, ...]
    bind_processors: tuple[Processor | None, ...]
    result_processors: tuple[Processor | None, ...]
    compiled: Any  # SQLCompiler: maps a later statement's values onto these parameters


class PreparedStatements:
    """Compiled statement shapes by SQLAlchemy cache key, the least recently used dropped
    beyond MAX_SHAPES (shapes vary with filters and order, not with values). None marks a
    shape that cannot run directly."""

    def __init__(self) -> None:
        self._by_key: OrderedDict[Any, Prepared | None] = OrderedDict()

    def get(
        self,
        cache_key: Any,
        statement: Select[Any],
        expressions: Sequence[ColumnElement[Any]],
        dialect: Dialect,
    ) -> Prepared | None:
        key = cache_key.key
        if key in self._by_key:
            self._by_key.move_to_end(key)
            return self._by_key[key]
        prepared = _prepare(statement, cache_key, expressions, dialect)
        self._by_key[key] = prepared
        if len(self._by_key) > MAX_SHAPES:
            self._by_key.popitem(last=False)
        return prepared


# By dialect (one per engine), held weakly: an engine disposed and dropped takes its shapes.
_PREPARED: weakref.WeakKeyDictionary[Dialect, PreparedStatements] = weakref.WeakKeyDictionary()


def _prepare(
    statement: Select[Any],
    cache_key: Any,
    expressions: Sequence[ColumnElement[Any]],
    dialect: Dialect,
) -> Prepared | None:
    """The compiled form of `statement`, or None when it cannot run directly: parameters
    expanded or rendered at execution, or result columns that do not line up with
    `expressions`."""
    # Compiled with its cache key, so that a later statement of the same shape can map its
    # own values onto these parameters (construct_params(extracted_parameters=...)).
    compiled = statement.compile(dialect=dialect, cache_key=cache_key)
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None
    if len(compiled._result_columns) != len(expressions):
        return None
    names = tuple(compiled.positiontup or ())
    binds = compiled.binds
    return Prepared(
        compiled.string,
        names,
        tuple(binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names),
        tuple(
            expression.type.dialect_impl(dialect).result_processor(dialect, None)
            for expression in expressions
        ),
        compiled,
    )


def _observed(conn: AsyncConnection) -> bool:
    """Whether anything watches this connection's statements through SQLAlchemy."""
    sync = conn.sync_connection
    engine = conn.sync_engine
    if engine.echo or tracing_wanted():
        return True
    if not engine._has_events and not (sync is not None and sync._has_events):
        return False
    # A connection inherits its engine's listeners; the trace's alone watch nothing now.
    return not watched_by_trace_only(engine)


async def fetch_rows_direct(
    conn: AsyncConnection,
    statement: Select[Any],
    expressions: Sequence[ColumnElement[Any]],
    parameters: Mapping[str, Any] | None = None,
) -> list[Sequence[Any]]:
    """The rows of `statement` (selecting `expressions`; `parameters` fill its bind
    parameters left without a value, so that one statement object, built once, serves
    every request), as tuples, run on the driver's connection where nothing can tell the
    difference; otherwise as `decoding.fetch_rows`."""
    dialect = conn.dialect
    if dialect.driver not in DIRECT_DRIVERS or _observed(conn):
        return await fetch_rows(conn, statement, expressions, parameters)
    cache_key = statement._generate_cache_key()  # memoized: a kept statement computes it once
    if cache_key is None:
        return await fetch_rows(conn, statement, expressions, parameters)
    shapes = _PREPARED.get(dialect)
    if shapes is None:
        shapes = _PREPARED[dialect] = PreparedStatements()
    prepared = shapes.get(cache_key, statement, expressions, dialect)
    if prepared is None:
        return await fetch_rows(conn, statement, expressions, parameters)
    values = prepared.compiled.construct_params(
        params=parameters, extracted_parameters=cache_key.bindparams
    )
    positional = tuple(
        value if processor is None else processor(value)
        for value, processor in zip(
            [values[name] for name in prepared.parameter_names],
            prepared.bind_processors,
            strict=True,
        )
    )
    driver_connection = (await conn.get_raw_connection()).driver_connection
    if driver_connection is None:  # invalidated: let SQLAlchemy raise and look after it
        return await fetch_rows(conn, statement, expressions, parameters)
    try:
        async with driver_connection.cursor() as cursor:
            await cursor.execute(prepared.sql, positional)
            rows = await cursor.fetchall()
    except Exception:  # raised as SQLAlchemy's, and the connection looked after, this way
        return await fetch_rows(conn, statement, expressions, parameters)
    processors = prepared.result_processors
    if not any(processors):
        return list(rows)
    return [_processed(row, processors) for row in rows]


def _processed(row: Sequence[Any], processors: Sequence[Processor | None]) -> tuple[Any, ...]:
    """A row converted as SQLAlchemy would; a value that cannot be is marked, as
    `decoding.fetch_rows` marks it, so that the page still renders."""
    out = []
    for value, processor in zip(row, processors, strict=True):
        if processor is not None and value is not None:
            try:
                value = processor(value)
            except DECODE_ERRORS as exc:
                value = Undecodable(value, type(exc).__name__)
        out.append(value)
    return tuple(out)
