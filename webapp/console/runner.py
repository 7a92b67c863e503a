"""Running one console statement on the read-only engine: bound parameters, the time limit,
a page's worth of rows (or every row, streamed), and what happened in words. Whatever the
statement tries, the database decides (database/read_only.py); this module only reports."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, bindparam, text
from sqlalchemy.exc import ResourceClosedError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import TextClause

from webapp.console.placeholders import find_placeholders
from webapp.database.dialects import is_timeout
from webapp.database.read_only import (
    STATEMENT_ERRORS,
    Deadline,
    explain_prefix,
    read_only_transaction,
)
from webapp.web.errors import TooBusy, first_line


class StatementRefused(Exception):
    """The statement could not run or the database refused it; the message says why."""


class DownloadCut(Exception):
    """A download stopped after its first byte (the client left, or a failure)."""


@dataclass
class Outcome:
    """What one run showed: its columns and first rows, whether more rows followed, how
    long it took, or the database's refusal."""

    columns: list[str] = field(default_factory=list)
    rows: list[Sequence[Any]] = field(default_factory=list)
    more: bool = False
    milliseconds: int = 0
    error: str | None = None
    returns_rows: bool = True

    @property
    def row_count(self) -> int | None:
        return None if self.error is not None else len(self.rows)


def statement(sql: str, values: Mapping[str, str], *, explain: bool, dialect: Any) -> TextClause:
    """The statement as SQLAlchemy text with every `:name` bound (as text) to its value;
    a parameter without a value is a StatementRefused."""
    found = find_placeholders(sql.strip())
    missing = [name for name in found.names if name not in values]
    if missing:
        raise StatementRefused(f"Give a value for the parameter :{missing[0]}.")
    body = found.bindable
    if explain:
        body = explain_prefix(dialect) + body
    clause = text(body)
    if found.names:
        clause = clause.bindparams(
            *(bindparam(name, values[name], type_=String()) for name in found.names)
        )
    return clause


def refusal_text(exc: BaseException, seconds: float) -> str:
    """A database error as one line for the page and the run log."""
    if is_timeout(exc):
        return f"Stopped: the statement ran longer than the time limit ({seconds:g} s)."
    return first_line(getattr(exc, "orig", None) or exc)


async def run_page(
    engine: AsyncEngine,
    clause: TextClause,
    *,
    seconds: float,
    max_rows: int,
) -> Outcome:
    """Run `clause` read-only and keep its first `max_rows` rows. A statement with rows
    left over is abandoned with its connection (reading them all could take long)."""
    started = time.perf_counter()
    outcome = Outcome()
    try:
        async with _connection(engine) as conn, read_only_transaction(conn, seconds):
            result = await conn.stream(clause)
            outcome.columns = _column_names(result)
            if not outcome.columns:
                outcome.returns_rows = False
                await result.close()
            else:
                fetched = await result.fetchmany(max_rows + 1)
                outcome.more = len(fetched) > max_rows
                outcome.rows = [tuple(row) for row in fetched[:max_rows]]
                if outcome.more:
                    await conn.invalidate()
                else:
                    await result.close()
    except STATEMENT_ERRORS as exc:
        if isinstance(exc, PoolTimeout):
            raise TooBusy("Other console statements are running. Try again in a moment.") from None
        outcome.error = refusal_text(exc, seconds)
    outcome.milliseconds = int((time.perf_counter() - started) * 1000)
    return outcome


@contextlib.asynccontextmanager
async def stream_rows(
    engine: AsyncEngine, clause: TextClause, *, seconds: float, batch: int
) -> AsyncIterator[tuple[list[str], AsyncIterator[Sequence[Sequence[Any]]], Deadline]]:
    """Every row of `clause`, `batch` at a time, on a read-only connection: yields the
    column names, the batches and the deadline (renewed per batch by the caller). Refusals
    before the first row raise StatementRefused."""
    async with (
        _connection(engine) as conn,
        read_only_transaction(conn, seconds, streaming=True) as deadline,
    ):
        try:
            result = await conn.stream(clause.execution_options(yield_per=batch))
        except STATEMENT_ERRORS as exc:
            raise StatementRefused(refusal_text(exc, seconds)) from None
        names = _column_names(result)
        if not names:
            raise StatementRefused("The statement returns no rows to download.")
        try:
            yield names, _batches(result.partitions(), seconds), deadline
        except BaseException:
            # Closing a result with rows unread reads them all (MySQL): drop it instead.
            await conn.invalidate()
            raise


async def _batches(
    partitions: AsyncIterator[Sequence[Any]], seconds: float
) -> AsyncIterator[Sequence[Any]]:
    """The result's batches; a refusal met while fetching is a StatementRefused."""
    while True:
        try:
            rows = await anext(partitions, None)
        except STATEMENT_ERRORS as exc:
            raise StatementRefused(refusal_text(exc, seconds)) from None
        if rows is None:
            return
        yield rows


def _column_names(result: Any) -> list[str]:
    """The result's column names; none for a statement that returns no rows (SET, PRAGMA)."""
    try:
        return list(result.keys())
    except ResourceClosedError:
        return []


@contextlib.asynccontextmanager
async def _connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    try:
        async with engine.connect() as conn:
            yield conn
    except PoolTimeout:
        raise TooBusy("Other console statements are running. Try again in a moment.") from None
