"""Every row of a table view (its filters, search and order, all pages) as CSV or JSON.

The statement is read as one stream (a server-side cursor where the driver has one), a
batch at a time, and each batch is written before the next is fetched, so memory stays flat
however many rows there are. On SQLite, which stores any value in any column, values are
fetched as the driver returns them and decoded one by one, as pages do after a decoding
error: a malformed stored date is exported as it is stored instead of failing the download
halfway. MySQL and PostgreSQL check types on write, and their drivers decode."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Enum, Select, String, select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from .catalog import TableInfo
from .decoding import Undecodable, decode_row, raw_select, result_processors
from .dialects import backend_of, date_text_form
from .fields import column_family, record_expression, show_value
from .queries import SortKey, order_by

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
) -> Export:
    """Every column the user may see, of every row `where` selects, in the page's order."""
    columns = info.columns
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
    return record_expression(column, dialect)


def _stored_text(raw: Any) -> str:
    """An undecodable value as it is stored."""
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw).decode("utf-8", errors="replace")
    return str(raw)


def csv_text(value: Any, is_bool: bool) -> str:
    """A value as a CSV field: the text the record page shows, an empty field for NULL,
    binary as hexadecimal, JSON compact."""
    kind = type(value)  # fast paths for the commonest types: this runs for every value
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is int:
        if is_bool and value in (0, 1):
            return "true" if value else "false"  # MySQL's BOOLEAN is TINYINT(1)
        return str(value)
    if kind is decimal.Decimal:
        return format(value, "f")
    if kind is dt.datetime:
        return value.isoformat(sep=" ")
    if isinstance(value, Undecodable):
        return _stored_text(value.raw)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return show_value(value, preview=False).text


def json_value(value: Any, is_bool: bool) -> Any:
    """A value as JSON: numbers and booleans as such, JSON documents as documents;
    decimals as strings (their exact digits); anything else, and a float JSON cannot hold
    (NaN, infinity), as the CSV's text (dates as ISO 8601 with a space, as pages show)."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is int:
        return bool(value) if is_bool and value in (0, 1) else value
    if kind is float:
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict | list):
        return value
    return csv_text(value, is_bool)


class ExportWriter:
    """Turns batches of decoded rows into the text of one export format."""

    def __init__(self, format_name: str, columns: Sequence[Column]) -> None:
        self.format_name = format_name
        self.names = [column.name for column in columns]
        self.bools = [column_family(column.type) == "bool" for column in columns]
        self._rows_written = 0

    def head(self) -> str:
        if self.format_name == "csv":
            return self._csv([self.names])
        return "["

    def batch(self, rows: Sequence[Sequence[Any]]) -> str:
        if not rows:
            return ""
        bools = self.bools
        if self.format_name == "csv":
            return self._csv(
                [
                    [csv_text(value, is_bool) for value, is_bool in zip(row, bools, strict=True)]
                    for row in rows
                ]
            )
        names = self.names
        dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
        lines = [
            dumps(
                {
                    name: json_value(value, is_bool)
                    for name, value, is_bool in zip(names, row, bools, strict=True)
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
