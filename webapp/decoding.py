"""Reading rows whose values the driver or SQLAlchemy may fail to decode (a malformed date
in SQLite, say): the page still renders, with the bad cells marked, instead of failing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

NOT_UTF8 = "not UTF-8"  # why a text value (SQLite's, which may hold any bytes) is Undecodable
DECODE_ERRORS = (ValueError, TypeError, UnicodeDecodeError, LookupError, OverflowError)


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a value that could not be turned into a Python object."""

    raw: Any
    reason: str

    def __str__(self) -> str:
        return f"cannot read this value ({self.reason}): {self.raw!r}"[:300]


async def fetch_rows(
    conn: AsyncConnection, statement: Select[Any], expressions: Sequence[ColumnElement[Any]]
) -> list[Sequence[Any]]:
    """All rows of `statement`, whose selected columns are `expressions`; if decoding fails,
    fetch the raw values again and decode them one by one."""
    try:
        result = await conn.execute(statement)
        return list(result.all())
    except DECODE_ERRORS:
        pass
    result = await conn.execute(raw_select(statement, expressions))
    processors = result_processors(expressions, conn.dialect)
    return [decode_row(row, processors) for row in result.all()]


def raw_select(statement: Select[Any], expressions: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """`statement` selecting the driver's values of `expressions`, not yet decoded."""
    return statement.with_only_columns(
        *(_raw(expression) for expression in expressions), maintain_column_froms=True
    )


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
