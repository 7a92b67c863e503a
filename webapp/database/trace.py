"""The query trace: the statements one request ran, with their parameters, rows and
durations, so a slow page explains itself. Engines report every statement to the trace of
the request running it (a context variable, set only while a trace is wanted); without one
the cost is a context variable lookup per statement."""

from __future__ import annotations

import contextlib
import contextvars
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

PARAMETERS_SHOWN = 500  # characters of a statement's parameters kept in the trace
_STARTED = "webapp_trace_started"


@dataclass
class TracedStatement:
    """One statement as it ran."""

    sql: str
    parameters: str
    milliseconds: float = 0.0
    rows: int | None = None
    error: str | None = None


_CURRENT: contextvars.ContextVar[list[TracedStatement] | None] = contextvars.ContextVar(
    "webapp_query_trace", default=None
)


@contextlib.contextmanager
def tracing() -> Iterator[list[TracedStatement]]:
    """Collect the statements run inside the block (and by tasks it starts)."""
    statements: list[TracedStatement] = []
    token = _CURRENT.set(statements)
    try:
        yield statements
    finally:
        _CURRENT.reset(token)


# Engines the trace alone listens to, with their listener count once it did: a statement
# path that bypasses SQLAlchemy (database/driver_rows.py) stays open to them while no trace
# is wanted, and closes as soon as anything else listens.
_TRACE_ONLY: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


def trace_engine(engine: AsyncEngine) -> None:
    """Report `engine`'s statements to the trace of the request that runs them."""
    sync_engine = engine.sync_engine
    if event.contains(sync_engine, "before_cursor_execute", _before):
        return
    listened_before = sync_engine._has_events
    event.listen(sync_engine, "before_cursor_execute", _before)
    event.listen(sync_engine, "after_cursor_execute", _after)
    event.listen(sync_engine, "handle_error", _failed)
    if not listened_before:
        _TRACE_ONLY[sync_engine] = _listener_count(sync_engine)


def _listener_count(sync_engine: Engine) -> int:
    dispatch: Any = sync_engine.dispatch
    return sum(len(list(getattr(dispatch, name))) for name in dispatch._event_names)


def tracing_wanted() -> bool:
    """Whether the running request asked for a trace."""
    return _CURRENT.get() is not None


def watched_by_trace_only(sync_engine: Engine) -> bool:
    """Whether the trace's listeners are the only ones on `sync_engine`."""
    count = _TRACE_ONLY.get(sync_engine)
    return count is not None and _listener_count(sync_engine) == count


def _before(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    statements = _CURRENT.get()
    if statements is None:
        return
    shown = repr(parameters) if parameters else ""
    if len(shown) > PARAMETERS_SHOWN:
        shown = shown[:PARAMETERS_SHOWN] + "…"
    traced = TracedStatement(statement, shown)
    statements.append(traced)
    conn.info[_STARTED] = (time.perf_counter(), traced)


def _after(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    started = conn.info.pop(_STARTED, None)
    if started is None:
        return
    began, traced = started
    traced.milliseconds = (time.perf_counter() - began) * 1000
    rowcount = getattr(cursor, "rowcount", -1)
    traced.rows = rowcount if isinstance(rowcount, int) and rowcount >= 0 else None


def _failed(context: Any) -> None:
    conn = context.connection
    started = conn.info.pop(_STARTED, None) if conn is not None else None
    if started is None:
        return
    began, traced = started
    traced.milliseconds = (time.perf_counter() - began) * 1000
    traced.error = str(context.original_exception).splitlines()[0][:300]
