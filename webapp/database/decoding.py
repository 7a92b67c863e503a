"""Reading rows whose values the driver or SQLAlchemy may fail to decode (a malformed date
in SQLite, say): the page still renders, with the bad cells marked, instead of failing."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from webapp.database.dialects import text_form
from webapp.database.unreadable import AS_TEXT, NOT_UTF8, OUT_OF_RANGE, Undecodable

__all__ = ["NOT_UTF8", "OUT_OF_RANGE", "Undecodable", "fetch_rows", "raw_select"]

DECODE_ERRORS = (ValueError, TypeError, UnicodeDecodeError, LookupError, OverflowError)


async def fetch_rows(
    conn: AsyncConnection,
    statement: Select[Any],
    expressions: Sequence[ColumnElement[Any]],
    parameters: Mapping[str, Any] | None = None,
) -> list[Sequence[Any]]:
    """All rows of `statement`, whose selected columns are `expressions` (with `parameters`
    for its bind parameters, if it has any left to fill); if decoding fails, fetch the raw
    values again and decode them one by one."""
    try:
        result = await conn.execute(statement, parameters)
        return list(result.all())
    except DECODE_ERRORS:
        pass
    try:
        result = await conn.execute(raw_select(statement, expressions), parameters)
    except DECODE_ERRORS:  # the driver itself cannot read a value (asyncpg's binary codecs)
        result = await conn.execute(text_select(statement, expressions, conn.dialect), parameters)
        kept = [_python_type(expression) is str for expression in expressions]
        return [
            tuple(
                value if keep or value is None else Undecodable(value, AS_TEXT)
                for value, keep in zip(row, kept, strict=True)
            )
            for row in result.all()
        ]
    processors = result_processors(expressions, conn.dialect)
    return [decode_row(row, processors) for row in result.all()]


def raw_select(statement: Select[Any], expressions: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """`statement` selecting the driver's values of `expressions`, not yet decoded."""
    return statement.with_only_columns(
        *(_raw(expression) for expression in expressions), maintain_column_froms=True
    )


def text_select(
    statement: Select[Any], expressions: Sequence[ColumnElement[Any]], dialect: Dialect
) -> Select[Any]:
    """`statement` selecting each of `expressions` as the database's text."""
    texts: list[ColumnElement[Any]] = [
        type_coerce(text_form(expression, dialect), NullType()).label(
            getattr(expression, "name", None)
        )
        for expression in expressions
    ]
    return statement.with_only_columns(*texts, maintain_column_froms=True)


def _python_type(expression: ColumnElement[Any]) -> type | None:
    try:
        return expression.type.python_type
    except NotImplementedError:
        return None


def result_processors(
    expressions: Sequence[ColumnElement[Any]], dialect: Dialect
) -> list[Callable[[Any], Any] | None]:
    """What SQLAlchemy would apply to each driver value of `expressions`."""
    return [
        expression.type.dialect_impl(dialect).result_processor(dialect, None)
        for expression in expressions
    ]


def decode_row(
    row: Sequence[Any], processors: Sequence[Callable[[Any], Any] | None]
) -> tuple[Any, ...]:
    """A raw row decoded value by value: a value that cannot be read becomes Undecodable."""
    pairs = zip(row, processors, strict=True)
    return tuple(_decode(value, processor) for value, processor in pairs)


def _raw(expression: ColumnElement[Any]) -> ColumnElement[Any]:
    return type_coerce(expression, NullType()).label(getattr(expression, "name", None))


def _decode(value: Any, processor: Any) -> Any:
    if processor is None or value is None or isinstance(value, Undecodable):
        return value
    try:
        return processor(value)
    except DECODE_ERRORS as exc:
        return Undecodable(value, type(exc).__name__)
