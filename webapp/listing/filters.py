"""Column filters from the URL: `?column__op=value`, split on the last `__`, so any view can
be bookmarked and shared. Columns come from the catalog, values become bound parameters of
the column's type; anything else is a 400 that says what was wrong."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Enum, and_, or_
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from webapp.database.dialects import can_hold, equals, escape_like, text_like
from webapp.listing.filter_text import is_date_only
from webapp.schema.catalog import TableInfo
from webapp.values import BadValue, column_family, kind_for, python_type_of
from webapp.web.errors import BadRequest

SEPARATOR = "__"
MAX_FILTERS = 20
MAX_IN_VALUES = 100


@dataclass(frozen=True)
class Operator:
    name: str
    label: str  # what the filter form and the active-filter list say
    needs_value: bool = True


OPERATORS = {
    op.name: op
    for op in (
        Operator("exact", "="),
        Operator("not", "≠"),
        Operator("lt", "<"),
        Operator("lte", "≤"),
        Operator("gt", ">"),
        Operator("gte", "≥"),
        Operator("contains", "contains"),
        Operator("startswith", "starts with"),
        Operator("endswith", "ends with"),
        Operator("in", "is one of (comma-separated)"),
        Operator("isnull", "is NULL", needs_value=False),
        Operator("notnull", "is not NULL", needs_value=False),
    )
}
NULL_OPS = ("isnull", "notnull")
EQUALITY_OPS = ("exact", "not", "in")
ORDER_OPS = ("lt", "lte", "gt", "gte")
TEXT_OPS = ("contains", "startswith", "endswith")
VALUE_TYPES = (int, float, dt.date, dt.datetime, dt.time)


def operators_for(column: Column) -> tuple[str, ...]:
    """The operators that make sense for a column's type."""
    family = column_family(column.type)
    if family == "text":
        return (*EQUALITY_OPS, *TEXT_OPS, *ORDER_OPS, *NULL_OPS)
    if family in ("number", "date") and (
        python_type_of(column.type) in VALUE_TYPES or family == "number"
    ):
        return (*EQUALITY_OPS, *ORDER_OPS, *NULL_OPS)
    if family == "bool":
        return ("exact", "not", *NULL_OPS)
    if isinstance(column.type, Enum) or python_type_of(column.type) is uuid.UUID:
        return (*EQUALITY_OPS, *NULL_OPS)
    return NULL_OPS


@dataclass(frozen=True)
class Filter:
    """One condition on one column, as the URL gave it."""

    column: Column
    op: str
    text: str

    @property
    def param(self) -> str:
        return f"{self.column.name}{SEPARATOR}{self.op}"

    @property
    def description(self) -> str:
        """What the active-filter chip says: a true/false column's value in words, since
        `1` or `0` in a URL means true or false to it."""
        operator = OPERATORS[self.op]
        if not operator.needs_value:
            return f"{self.column.name} {operator.label}"
        text = self.text
        if column_family(self.column.type) == "bool":
            with contextlib.suppress(BadValue):
                text = "true" if kind_for(self.column).parse_filter(text) else "false"
        return f"{self.column.name} {operator.label} {text}"

    def condition(self, dialect: Dialect) -> ColumnElement[bool]:
        return _condition(self.column, self.op, self.text, dialect)


def parse_filters(
    info: TableInfo, items: Iterable[tuple[str, str]], *, problems: list[str] | None = None
) -> list[Filter]:
    """Every `column__op=value` of a query string, checked; other parameters are the app's
    own (q, sort, size, page, cursor) and are left alone. A bad filter is a 400, or, when
    `problems` is given, left out with its reason added there (the table page then shows
    the rest of the view and says why)."""
    filters: list[Filter] = []
    for key, text in items:
        if SEPARATOR not in key:
            continue
        if len(filters) >= MAX_FILTERS:
            _refuse(f"At most {MAX_FILTERS} filters at a time.", problems)
            break
        try:
            filters.append(_parse_filter(info, key, text))
        except BadRequest as exc:
            _refuse(exc.message, problems)
    return filters


def _refuse(message: str, problems: list[str] | None) -> None:
    if problems is None:
        raise BadRequest(message)
    problems.append(message)


def _parse_filter(info: TableInfo, key: str, text: str) -> Filter:
    name, op = key.rsplit(SEPARATOR, 1)
    column = info.column(name)
    if column is None:
        raise BadRequest(f"Cannot filter {info.name!r} on {name!r}: no such column.")
    allowed = operators_for(column)
    if op not in allowed:
        raise BadRequest(
            f"Cannot filter {name!r} with {op!r}; for this column use one of: {', '.join(allowed)}."
        )
    if len(text) > 10_000:
        raise BadRequest(f"The value for {key!r} is too long.")
    candidate = Filter(column, op, text)
    _check_value(candidate)
    return candidate


def _check_value(candidate: Filter) -> None:
    """Parse the value now, so that a bad one is a 400 before any statement is built."""
    try:
        for part in _values(candidate.op, candidate.text):
            kind_for(candidate.column).parse_filter(part)
    except BadValue as exc:
        raise BadRequest(f"Filter {candidate.param}: {exc}.") from None


def _values(op: str, text: str) -> list[str]:
    if not OPERATORS[op].needs_value:
        return []
    if op == "in":
        parts = [part.strip() for part in text.split(",")]
        if len(parts) > MAX_IN_VALUES:
            raise BadValue(f"at most {MAX_IN_VALUES} values")
        return parts
    return [text]


def _condition(column: Column, op: str, text: str, dialect: Dialect) -> ColumnElement[bool]:
    if op == "isnull":
        return column.is_(None)
    if op == "notnull":
        return column.is_not(None)
    if op in TEXT_OPS:
        escaped = escape_like(text)
        pattern = {
            "contains": f"%{escaped}%",
            "startswith": f"{escaped}%",
            "endswith": f"%{escaped}",
        }[op]
        return text_like(column, pattern, dialect)
    if op == "in":
        return or_(*(_equals(column, part, dialect) for part in _values(op, text)))
    if op == "exact":
        return _equals(column, text, dialect)
    if op == "not":
        different = ~_equals(column, text, dialect)
        return or_(different, column.is_(None)) if column.nullable else different
    value = kind_for(column).parse_filter(text)
    if not can_hold(column, value, dialect):
        raise BadRequest(f"{column.name!r} cannot hold {text[:40]!r}, so it cannot be compared.")
    if _whole_day(column, text):
        # A date given for a date-and-time column means the whole day.
        next_day = value + dt.timedelta(days=1)
        if op == "lte":
            return column < next_day
        if op == "gt":
            return column >= next_day
    return {
        "lt": column < value,
        "lte": column <= value,
        "gt": column > value,
        "gte": column >= value,
    }[op]


def _equals(column: Column, text: str, dialect: Dialect) -> ColumnElement[bool]:
    value = kind_for(column).parse_filter(text)
    if _whole_day(column, text):
        return and_(column >= value, column < value + dt.timedelta(days=1))
    return equals(column, value, dialect)


def _whole_day(column: Column, text: str) -> bool:
    return python_type_of(column.type) is dt.datetime and is_date_only(text)


def filter_choices(info: TableInfo) -> list[dict[str, Any]]:
    """The columns the filter form offers, with the operators each accepts."""
    return [
        {"name": column.name, "ops": operators_for(column)}
        for column in info.columns
        if operators_for(column) != NULL_OPS or column.nullable
    ]
