"""Every row of a table view (its filters, search and order, all pages) as CSV or JSON.

The statement is read as one stream (a server-side cursor where the driver has one), a
batch at a time, and each batch is written before the next is fetched, so memory stays flat
however many rows there are. On SQLite, which stores any value in any column, values are
fetched as the driver returns them and decoded one by one, as pages do after a decoding
error: a malformed stored date is exported as it is stored instead of failing the download
halfway. MySQL and PostgreSQL check types on write, and their drivers decode."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Column, Enum, Select, String, select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from webapp.database.decoding import decode_row, raw_select, result_processors
from webapp.database.dialects import backend_of, date_text_form
from webapp.listing.queries import SortKey, order_by
from webapp.schema.catalog import TableInfo
from webapp.values import kind_for
from webapp.values.kinds import BoolKind, ValueKind

# How values read without a reflected column (csv_text, json_value): plain, or as booleans.
PLAIN_VALUES = ValueKind(Column("value", NullType()), None)
BOOL_VALUES = BoolKind(Column("value", Boolean()), None)
EXPORT_FORMATS = {"csv": "text/csv", "json": "application/json"}
BATCH_ROWS = 2000


@dataclass(frozen=True)
class Export:
    """What an export selects and how its rows are decoded."""

    statement: Select[Any]
    columns: list[Column]
    processors: list[Callable[[Any], Any] | None]

    def decode(self, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """Driver rows as Python values; columns the driver already hands over decoded (most
        of them, on MySQL and PostgreSQL) are left alone."""
        if not any(self.processors):
            return list(rows)
        return [decode_row(row, self.processors) for row in rows]


def export_plan(
    info: TableInfo,
    dialect: Dialect,
    sort: SortKey | None,
    where: Sequence[ColumnElement[bool]],
    columns: Sequence[Column] | None = None,
) -> Export:
    """The `columns` (default: every column the user may see) of every row `where`
    selects, in the page's order."""
    columns = list(columns) if columns is not None else info.columns
    expressions = [export_expression(column, dialect) for column in columns]
    statement = (
        select(*expressions).select_from(info.table).where(*where).order_by(*order_by(info, sort))
    )
    if backend_of(dialect) != "sqlite":
        return Export(statement=statement, columns=columns, processors=[])
    return Export(
        statement=raw_select(statement, expressions),
        columns=columns,
        processors=result_processors(expressions, dialect),
    )


def export_expression(column: Column, dialect: Dialect) -> ColumnElement[Any]:
    """What to select for `column`: as the record page does, but an enum as its plain text
    (a value outside the enum, as MariaDB may hold, comes out as it is) and on MySQL a
    whole-second date as the text the database writes, which equals Python's."""
    as_text = date_text_form(column, dialect)
    if as_text is not None:
        return as_text.label(column.name)
    if isinstance(column.type, Enum):
        return type_coerce(column, String()).label(column.name)
    return kind_for(column, dialect).record_expression()


def csv_text(value: Any, is_bool: bool) -> str:
    """A value as a CSV field: the text the record page shows, an empty field for NULL,
    binary as hexadecimal, JSON compact (`is_bool`: MySQL's BOOLEAN, a TINYINT(1))."""
    if type(value) is str:  # the commonest case, first: this runs for every value
        return value
    return (BOOL_VALUES if is_bool else PLAIN_VALUES).csv_text(value)


def json_value(value: Any, is_bool: bool) -> Any:
    """A value as JSON: numbers and booleans as such, JSON documents as documents;
    decimals as strings (their exact digits); anything else, and a float JSON cannot hold
    (NaN, infinity), as the CSV's text (dates as ISO 8601 with a space, as pages show)."""
    return (BOOL_VALUES if is_bool else PLAIN_VALUES).json_value(value)


class ExportWriter:
    """Turns batches of decoded rows into the text of one export format."""

    def __init__(self, format_name: str, columns: Sequence[Column]) -> None:
        self.format_name = format_name
        self.names = [column.name for column in columns]
        self.kinds = [kind_for(column) for column in columns]
        self._rows_written = 0

    def head(self) -> str:
        if self.format_name == "csv":
            return self._csv([self.names])
        return "["

    def batch(self, rows: Sequence[Sequence[Any]]) -> str:
        if not rows:
            return ""
        kinds = self.kinds
        if self.format_name == "csv":
            # Per column: the text of the commonest exact types as plain functions, else
            # the kind's (this runs for every value of a download).
            columns = [(kind.csv_fast.get, kind.csv_text) for kind in kinds]
            return self._csv(
                [
                    [
                        (fast(type(value)) or general)(value)
                        for value, (fast, general) in zip(row, columns, strict=True)
                    ]
                    for row in rows
                ]
            )
        names = self.names
        dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
        lines = [
            dumps(
                {
                    name: kind.json_value(value)
                    for name, value, kind in zip(names, row, kinds, strict=True)
                }
            )
            for row in rows
        ]
        separator = ",\n" if self._rows_written else "\n"
        self._rows_written += len(rows)
        return separator + ",\n".join(lines)

    def tail(self) -> str:
        return "" if self.format_name == "csv" else "\n]\n"

    @staticmethod
    def _csv(rows: list[list[str]]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return out.getvalue()
