"""One place that knows, per column type, how a value is fetched for a page, shown, and
written into (and read back from) a URL key."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Enum, LargeBinary, String, Text, cast, func
from sqlalchemy.dialects.mysql import TINYINT
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType, TypeEngine

from .decoding import Undecodable
from .dialects import binary_length, date_text_form, text_form

PREVIEW_CHARS = 200
BINARY_PREVIEW_BYTES = 16


@dataclass(frozen=True, slots=True)
class Cell:
    """A value ready for a template: what to print, and how to style it."""

    kind: str  # null, empty, text, number, bool, date, json, binary, error
    text: str
    truncated: bool = False
    href: str | None = None
    label: str | None = None  # a foreign key's referenced row, named for people

    def linked(self, href: str | None) -> Cell:
        return Cell(self.kind, self.text, self.truncated, href, self.label)

    def labelled(self, label: str | None) -> Cell:
        return Cell(self.kind, self.text, self.truncated, self.href, label)


NULL_CELL = Cell("null", "NULL")


def show_value(value: Any, *, preview: bool) -> Cell:
    """A cell for a Python value; `preview` shortens long values for list pages."""
    if value is None:
        return NULL_CELL
    kind = type(value)  # fast paths for the commonest types: this runs for every cell
    if kind is str and value and (not preview or len(value) <= PREVIEW_CHARS):
        return Cell("text", value)
    if kind is int:
        return Cell("number", str(value))
    if isinstance(value, Undecodable):
        return Cell("error", str(value))
    if isinstance(value, bool):
        return Cell("bool", "true" if value else "false")
    if isinstance(value, int | float):
        return Cell("number", repr(value) if isinstance(value, float) else str(value))
    if isinstance(value, decimal.Decimal):
        return Cell("number", format(value, "f"))
    if isinstance(value, dt.datetime):
        return Cell("date", value.isoformat(sep=" "))
    if isinstance(value, dt.date | dt.time):
        return Cell("date", value.isoformat())
    if isinstance(value, dt.timedelta):
        return Cell("date", str(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return show_binary(len(value), bytes(value[:BINARY_PREVIEW_BYTES]))
    if isinstance(value, dict | list):
        indent = None if preview else 2
        return _text_cell("json", json.dumps(value, ensure_ascii=False, indent=indent), preview)
    if isinstance(value, str):
        if value == "":
            return Cell("empty", "")
        return _text_cell("text", value, preview)
    return _text_cell("text", str(value), preview)


def show_column_value(column: Column, value: Any, *, preview: bool) -> Cell:
    """`show_value`, knowing the column: MySQL's TINYINT(1) holds booleans as 0 and 1."""
    if column_family(column.type) == "bool" and isinstance(value, int) and value in (0, 1):
        value = bool(value)
    return show_value(value, preview=preview)


def show_binary(size: int, head: bytes) -> Cell:
    hex_head = head[:BINARY_PREVIEW_BYTES].hex(" ")
    more = "…" if size > BINARY_PREVIEW_BYTES else ""
    unit = "byte" if size == 1 else "bytes"
    return Cell("binary", f"{size:,} {unit}" + (f": {hex_head}{more}" if size else ""))


def _show_binary_preview(values: tuple[Any, ...]) -> Cell:
    size, head = values
    if size is None or isinstance(size, Undecodable) or isinstance(head, Undecodable):
        return show_value(
            size if size is None or isinstance(size, Undecodable) else head, preview=True
        )
    return show_binary(size, bytes(head))


def _text_cell(kind: str, text: str, preview: bool) -> Cell:
    if preview and len(text) > PREVIEW_CHARS:
        return Cell(kind, text[:PREVIEW_CHARS], truncated=True)
    return Cell(kind, text)


@dataclass(frozen=True)
class ListColumn:
    """How one column is fetched for a list page: long values are cut short in the
    database, so a megabyte cell never travels to the app or into the HTML."""

    column: Column
    expressions: tuple[ColumnElement[Any], ...]
    show: Callable[[tuple[Any, ...]], Cell]
    plain: bool = False  # one value shown by show_value as it is (rows_html's fast path)
    # For one value the database sends as text (cut short, or a date it wrote): the kind
    # of cell it makes (text, json, date).
    cut_kind: str | None = None


def list_column(column: Column, dialect: Dialect, *, keep_whole: bool) -> ListColumn:
    """The fetch plan for `column`; `keep_whole` for key columns, whose values make links."""
    kind = column_family(column.type)
    if kind == "date" and not keep_whole:
        as_text = date_text_form(column, dialect)
        if as_text is not None:
            return ListColumn(column, (as_text,), _show_date_text, cut_kind="date")
    if keep_whole or kind in ("number", "bool", "date", "other"):
        if kind == "bool":
            return ListColumn(
                column, (column,), lambda values: show_column_value(column, values[0], preview=True)
            )
        return ListColumn(column, (column,), _show_first, plain=True)
    if kind == "binary":
        head = func.substr(column, 1, BINARY_PREVIEW_BYTES)
        size = binary_length(column, dialect)
        return ListColumn(
            column,
            (size, head),
            _show_binary_preview,
        )
    whole_value = ListColumn(column, (column,), _show_first, plain=True)
    if kind == "text" and not _is_long_text(column.type):
        return whole_value
    if kind == "text":
        source = column
    elif kind == "json":
        source = cast(column, Text)
    else:
        source = text_form(column, dialect)
        if source is column:  # no text form to cut short: show what the driver returns
            return whole_value
    cell_kind = "json" if kind == "json" else "text"

    def show(values: tuple[Any, ...]) -> Cell:
        value = values[0]
        if value is None or value == "" or isinstance(value, Undecodable):
            return show_value(value, preview=True)
        return _text_cell(cell_kind, str(value), preview=True)

    return ListColumn(
        column, (func.substr(source, 1, PREVIEW_CHARS + 1),), show, cut_kind=cell_kind
    )


def _show_date_text(values: tuple[Any, ...]) -> Cell:
    """A date the database wrote as text (dialects.date_text_form)."""
    value = values[0]
    if value is None or isinstance(value, Undecodable):
        return show_value(value, preview=True)
    return Cell("date", str(value))


def _show_first(values: tuple[Any, ...]) -> Cell:
    return show_value(values[0], preview=True)


def record_expression(column: Column, dialect: Dialect) -> ColumnElement[Any]:
    """What to select for a record page: the value itself, or for a type SQLAlchemy does not
    know, a form the driver can return."""
    if isinstance(column.type, NullType):
        return text_form(column, dialect).label(column.name)
    return column


def column_family(type_: TypeEngine[Any]) -> str:
    """A coarse type family: number, bool, date, text, json, binary, unknown or other."""
    if isinstance(type_, NullType):
        return "unknown"
    if isinstance(type_, JSON):
        return "json"
    if isinstance(type_, LargeBinary) or python_type_of(type_) is bytes:
        return "binary"
    if isinstance(type_, Enum):
        return "other"
    if isinstance(type_, TINYINT) and type_.display_width == 1:
        return "bool"  # MySQL's BOOLEAN is TINYINT(1)
    if isinstance(type_, String):
        return "text"
    python_type = python_type_of(type_)
    if python_type in (int, float, decimal.Decimal):
        return "number"
    if python_type is bool:
        return "bool"
    if python_type in (dt.date, dt.datetime, dt.time, dt.timedelta):
        return "date"
    return "other"


def _is_long_text(type_: TypeEngine[Any]) -> bool:
    length = getattr(type_, "length", None)
    return isinstance(type_, Text) or length is None or length > PREVIEW_CHARS


def python_type_of(type_: TypeEngine[Any]) -> type | None:
    """The Python type a column's values come back as, if SQLAlchemy knows it."""
    try:
        return type_.python_type
    except NotImplementedError:
        return None


def key_text(value: Any) -> str:
    """A primary-key value as the text that goes into a URL."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class BadKey(ValueError):
    """URL text that cannot be a value of the key column."""


def parse_key(column: Column, text: str) -> Any:
    """The inverse of `key_text` for a column of the given type."""
    python_type = python_type_of(column.type)
    try:
        if python_type is bool:
            return text in ("1", "true")
        if python_type is int:
            return int(text)
        if python_type is decimal.Decimal:
            return decimal.Decimal(text)
        if python_type is float:
            return float(text)
        if python_type is dt.datetime:
            return dt.datetime.fromisoformat(text)
        if python_type is dt.date:
            return dt.date.fromisoformat(text)
        if python_type is dt.time:
            return dt.time.fromisoformat(text)
        if python_type is bytes:
            return bytes.fromhex(text)
        if python_type is uuid.UUID:
            return uuid.UUID(text)
    except (ValueError, decimal.InvalidOperation, OverflowError):
        raise BadKey(text) from None
    return text


class BadValue(ValueError):
    """Text from a request that is not a value of the column's type; the message says so."""


TRUE_WORDS = ("1", "true", "yes", "on", "t")
FALSE_WORDS = ("0", "false", "no", "off", "f")


def parse_value(column: Column, text: str) -> Any:
    """A value of `column`'s type from text typed by a person (a filter, a facet link):
    whole numbers, decimals, ISO dates and times, true/false; anything else is BadValue.
    Enum values must be one of the enum's."""
    family = column_family(column.type)
    if family == "bool":
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise BadValue(f"{column.name!r} holds true or false, not {text[:40]!r}")
    if isinstance(column.type, Enum) and column.type.enums and text not in column.type.enums:
        allowed = ", ".join(column.type.enums)
        raise BadValue(f"{column.name!r} holds one of {allowed}, not {text[:40]!r}")
    python_type = python_type_of(column.type)
    if python_type is dt.datetime:
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise BadValue(
                f"{column.name!r} holds dates and times (2024-01-31 or 2024-01-31 12:30), "
                f"not {text[:40]!r}"
            ) from None
        return _match_time_zone(moment, bool(getattr(column.type, "timezone", False)))
    if python_type is dt.date:
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            raise BadValue(f"{column.name!r} holds dates (2024-01-31), not {text[:40]!r}") from None
    if python_type in (int, float, decimal.Decimal, dt.time, uuid.UUID):
        try:
            value = parse_key(column, text.strip())
            _check_range(column, value)
            return value
        except BadKey:
            noun = {
                int: "whole numbers",
                float: "numbers",
                decimal.Decimal: "numbers",
                dt.time: "times (12:30:00)",
                uuid.UUID: "UUIDs",
            }[python_type]
            raise BadValue(f"{column.name!r} holds {noun}, not {text[:40]!r}") from None
    return text


INTEGER_BITS = {"SmallInteger": 16, "Integer": 32, "BigInteger": 64}


def _check_range(column: Column, value: Any) -> None:
    """Numbers the database would refuse to compare (a driver error, not an answer)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BadKey(str(value))
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        raise BadKey(str(value))
    if isinstance(value, int):
        bits = 64
        for cls in type(column.type).__mro__:
            if cls.__name__ in INTEGER_BITS:
                bits = INTEGER_BITS[cls.__name__]
                break
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1) * (1 if bits < 64 else 2):
            raise BadKey(str(value))


def _match_time_zone(moment: dt.datetime, aware: bool) -> dt.datetime:
    """Drivers refuse to compare a naive column with an aware value and vice versa."""
    if aware and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    if not aware and moment.tzinfo is not None:
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def is_date_only(text: str) -> bool:
    """Whether filter text for a date-and-time column names a whole day (2024-01-31)."""
    try:
        dt.date.fromisoformat(text.strip())
    except ValueError:
        return False
    return len(text.strip()) == 10
