"""Kinds of one backend's own column types and value quirks, registered ahead of the
generic rules for that backend."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import ARRAY, Column, String, Text, case, cast, func, literal, null, type_coerce
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from webapp.values.cells import Cell, text_cell
from webapp.values.kinds import BadKey, FieldError, ListColumn, TextKind, ValueKind, cut_text
from webapp.values.numbers import IntKind
from webapp.values.pytypes import show_value
from webapp.values.registry import converts

# --- MySQL / MariaDB ---------------------------------------------------------------------------


@converts(mysql.SET, backend="mysql")
class SetKind(TextKind):
    """A SET column: its value as MySQL writes it, the members in the order the column
    declares them, comma-separated ('a,c'; '' for none). The form takes the same text."""

    def __init__(self, column: Column, dialect: Dialect | None) -> None:
        super().__init__(column, dialect)
        self.members: tuple[str, ...] = tuple(getattr(column.type, "values", ()) or ())
        self.maxlength = None
        self.widget = "text"
        self.hint = "comma-separated: " + ", ".join(self.members)

    def record_expression(self) -> ColumnElement[Any]:
        return type_coerce(self.column, String()).label(self.column.name)

    def list_column(self, keep_whole: bool) -> ListColumn:
        return ListColumn(self.column, (self.record_expression(),), _show_text, plain=True)

    @property
    def driver_type(self) -> type | None:
        return str

    def show(self, value: Any, preview: bool) -> Cell:
        return show_value(self.text_of(value), preview)

    def key_text(self, value: Any) -> str:
        return self.text_of(value)

    def input_text(self, value: Any) -> str:
        return "" if value is None else self.text_of(value)

    def text_of(self, value: Any) -> Any:
        """A SET value read through SQLAlchemy (a Python set) as MySQL writes it."""
        if isinstance(value, set | frozenset):
            return ",".join(member for member in self.members if member in value)
        return value

    def parse_input(self, text: str) -> Any:
        chosen = set(text.split(",")) if text else set()
        unknown = sorted(chosen - set(self.members))
        if unknown:
            raise FieldError(
                f"Not a member: {', '.join(repr(m) for m in unknown)}. "
                f"Choose from {', '.join(self.members)}, comma-separated."
            )
        return ",".join(member for member in self.members if member in chosen)


def _show_text(values: tuple[Any, ...]) -> Cell:
    return show_value(values[0], True)


@converts(mysql.YEAR, backend="mysql")
class YearKind(IntKind):
    """MySQL's YEAR, read as a whole number (1901 to 2155, or 0)."""

    hint = "a year, like 2006"


@converts(mysql.BIT, backend="mysql")
class BitKind(ValueKind):
    """MySQL's BIT(n), read as bytes: shown, not edited here."""

    widget = "readonly"
    hint = "a type this app cannot edit"


# --- PostgreSQL --------------------------------------------------------------------------------


@converts(postgresql.INTERVAL, backend="postgresql", python=(dt.timedelta,))
class PgIntervalKind(ValueKind):
    """An interval as PostgreSQL writes it ('1 year 2 mons 3 days 04:05:06', see pg_text):
    months and years are not days, so no Python duration holds one exactly. The form takes
    any interval text PostgreSQL reads; the database checks it."""

    family = "date"
    parse_as = "interval"
    hint = "like 1 year 2 mons 3 days 04:05:06"

    def show(self, value: Any, preview: bool) -> Cell:
        if isinstance(value, str) and value:
            return Cell("date", value)
        return show_value(value, preview)

    @property
    def driver_type(self) -> type | None:
        return None

    def parse_input(self, text: str) -> Any:
        cleaned = text.strip()
        if not cleaned:
            raise FieldError("Enter an interval, like 1 year 2 mons 3 days 04:05:06.")
        return cleaned


@converts(
    ARRAY,
    postgresql.AbstractRange,
    postgresql.AbstractMultiRange,
    postgresql.INET,
    postgresql.CIDR,
    postgresql.MACADDR,
    postgresql.MACADDR8,
    postgresql.MONEY,
    postgresql.DOMAIN,
    postgresql.BIT,
    postgresql.TSVECTOR,
    postgresql.TSQUERY,
    backend="postgresql",
)
class PgTextKind(ValueKind):
    """A PostgreSQL type whose values read best as PostgreSQL's own text (arrays, ranges,
    network addresses, money, domains): fetched, shown, downloaded and logged as that text,
    and edited as it, the database casting the text back to the type (and checking it)."""

    parse_as = "text"
    hint = "as PostgreSQL writes it"

    def record_expression(self) -> ColumnElement[Any]:
        return self.text().label(self.column.name)

    def text(self) -> ColumnElement[Any]:
        """The value as its type's output function writes it (a cast to text can differ:
        inet '10.0.0.1' casts to '10.0.0.1/32'); NULL stays NULL, where format() would
        write ''."""
        written = func.format("%s", self.column, type_=Text)
        return case((self.column.is_not(None), written), else_=null())

    def list_column(self, keep_whole: bool) -> ListColumn:
        if keep_whole:
            return super().list_column(keep_whole)
        return cut_text(self, self.text(), "text")

    @property
    def driver_type(self) -> type | None:
        return None

    def parse_input(self, text: str) -> Any:
        return text

    def parse_key(self, text: str) -> Any:
        """The text cast to the column's type: compared as bare text, PostgreSQL finds no
        operator for a domain over int, an inet or an array (`positive = varchar`)."""
        if "\x00" in text:  # PostgreSQL text holds no NUL
            raise BadKey(text)
        return self.bind_value(text)

    def bind_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return cast(literal(value, Text()), self.column.type)
        return value


@converts(postgresql.JSON, postgresql.JSONB, backend="postgresql")
class PgJsonKind(PgTextKind):
    """A json or jsonb document as PostgreSQL writes it: read into Python, JSON's null would
    look like SQL NULL, a string would lose its quotes, a large number its digits and a
    json text its repeated keys. The form takes any JSON text; the database keeps it."""

    family = "json"
    parse_as = "json"
    widget = "textarea"
    hint = "JSON"
    api_plain = frozenset({type(None)})  # its text is parsed into the document

    def show(self, value: Any, preview: bool) -> Cell:
        if isinstance(value, str):
            return text_cell("json", value, preview)
        return show_value(value, preview)

    def list_column(self, keep_whole: bool) -> ListColumn:
        if keep_whole:
            return ValueKind.list_column(self, keep_whole)
        return cut_text(self, self.text(), "json")

    def json_value(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else super().json_value(value)

    def parse_input(self, text: str) -> Any:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise FieldError(
                f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        return text
