"""How a Python value reads wherever it turns up without its column (an audit entry, a
label, a key part): one `ValueType` per Python type a driver returns, registered with
`@reads(type)`. Column kinds (kinds.py) start from these and refine them per column."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import operator
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from webapp.database.dialects import duration_literal
from webapp.database.pg_text import SpecialMoment
from webapp.database.unreadable import AS_TEXT, NOT_UTF8, OUT_OF_RANGE, STORED_REASONS, Undecodable
from webapp.values.cells import (
    BINARY_PREVIEW_BYTES,
    NULL_CELL,
    PREVIEW_CHARS,
    Cell,
    show_binary,
    text_cell,
)


@dataclass(frozen=True)
class Unrestorable:
    """A value the audit log could only describe (unreadable, or of a type it cannot
    encode): shown, never written back."""

    text: str

    def __str__(self) -> str:
        return self.text


class ValueType:
    """Values of one Python type: the generic reading is `str(value)` as text."""

    tag = "unrestorable"  # the audit log's name for the type

    def show(self, value: Any, preview: bool) -> Cell:
        return text_cell("text", str(value), preview)

    def text(self, value: Any) -> str:
        """The value's one text: in a URL key, a CSV field, a form input."""
        return str(value)

    def key_text(self, value: Any) -> str:
        return self.text(value)

    def csv_text(self, value: Any) -> str:
        return self.show(value, False).text

    def json_value(self, value: Any) -> Any:
        return self.csv_text(value)

    def input_text(self, value: Any) -> str:
        return self.text(value)

    def audit_encode(self, value: Any) -> Any:
        return {"t": "unrestorable", "v": f"{type(value).__name__}: {value}"}

    def audit_decode(self, data: Any) -> Any:
        return Unrestorable(str(data))

    def canonical(self, value: Any) -> bytes:
        """Bytes that differ exactly when two values differ as the database holds them."""
        return f"{type(value).__name__}:{value!r}".encode("utf-8", "surrogatepass")


BY_TYPE: dict[type, ValueType] = {}  # filled by @reads at import, read-only after
_BY_TAG: dict[str, ValueType] = {}
GENERIC = ValueType()


def reads(*types: type) -> Callable[[type[ValueType]], type[ValueType]]:
    """Register a ValueType class for values of `types` (and its audit tag)."""

    def register(cls: type[ValueType]) -> type[ValueType]:
        instance = cls()
        for type_ in types:
            BY_TYPE[type_] = instance
        _BY_TAG[cls.tag] = instance
        return cls

    return register


def value_type(value: Any) -> ValueType:
    """The ValueType of a value: by its exact type, else its nearest base."""
    found = BY_TYPE.get(type(value))
    if found is not None:
        return found
    for base in type(value).__mro__[1:]:
        if base in BY_TYPE:
            return BY_TYPE[base]
    return GENERIC


def audit_decode(data: Any) -> Any:
    """The value an audit entry holds (see ValueType.audit_encode)."""
    if data is None:
        return None
    reader = _BY_TAG.get(data["t"], GENERIC)
    return reader.audit_decode(data["v"])


@reads(str)
class Text(ValueType):
    tag = "str"

    def show(self, value: str, preview: bool) -> Cell:
        if value == "":
            return Cell("empty", "")
        return text_cell("text", value, preview)

    def csv_text(self, value: str) -> str:
        return value

    def json_value(self, value: str) -> Any:
        return value

    def audit_encode(self, value: str) -> Any:
        return {"t": "str", "v": value}

    def audit_decode(self, data: Any) -> Any:
        return data


@reads(bool)
class Bool(ValueType):
    tag = "bool"

    def show(self, value: bool, preview: bool) -> Cell:
        return Cell("bool", "true" if value else "false")

    def text(self, value: bool) -> str:
        return "1" if value else "0"

    def csv_text(self, value: bool) -> str:
        return "true" if value else "false"

    def json_value(self, value: bool) -> Any:
        return value

    def audit_encode(self, value: bool) -> Any:
        return {"t": "bool", "v": value}

    def audit_decode(self, data: Any) -> Any:
        return data


@reads(int)
class Int(ValueType):
    tag = "int"

    def show(self, value: int, preview: bool) -> Cell:
        return Cell("number", str(value))

    def csv_text(self, value: int) -> str:
        return str(value)

    def json_value(self, value: int) -> Any:
        return value

    def audit_encode(self, value: int) -> Any:
        return {"t": "int", "v": str(value)}

    def audit_decode(self, data: Any) -> Any:
        return int(data)


@reads(float)
class Float(ValueType):
    tag = "float"

    def show(self, value: float, preview: bool) -> Cell:
        return Cell("number", repr(value))

    def csv_text(self, value: float) -> str:
        return repr(value)

    def text(self, value: float) -> str:
        return repr(value)

    def key_text(self, value: float) -> str:
        return str(value)

    def json_value(self, value: float) -> Any:
        return value if math.isfinite(value) else repr(value)

    def audit_encode(self, value: float) -> Any:
        return {"t": "float", "v": repr(value)}

    def audit_decode(self, data: Any) -> Any:
        return float(data)


@reads(decimal.Decimal)
class Decimal(ValueType):
    tag = "decimal"

    def show(self, value: decimal.Decimal, preview: bool) -> Cell:
        return Cell("number", format(value, "f"))

    def text(self, value: decimal.Decimal) -> str:
        return format(value, "f")

    def csv_text(self, value: decimal.Decimal) -> str:
        return format(value, "f")

    def audit_encode(self, value: decimal.Decimal) -> Any:
        return {"t": "decimal", "v": str(value)}

    def audit_decode(self, data: Any) -> Any:
        return decimal.Decimal(data)


@reads(dt.datetime)
class DateTime(ValueType):
    tag = "datetime"

    def show(self, value: dt.datetime, preview: bool) -> Cell:
        return Cell("date", value.isoformat(sep=" "))

    def text(self, value: dt.datetime) -> str:
        return value.isoformat(sep=" ")

    def csv_text(self, value: dt.datetime) -> str:
        return value.isoformat(sep=" ")

    def audit_encode(self, value: dt.datetime) -> Any:
        return {"t": "datetime", "v": value.isoformat()}

    def audit_decode(self, data: Any) -> Any:
        return dt.datetime.fromisoformat(data)


@reads(dt.date)
class Date(ValueType):
    tag = "date"

    def show(self, value: dt.date, preview: bool) -> Cell:
        return Cell("date", value.isoformat())

    def text(self, value: dt.date) -> str:
        return value.isoformat()

    def csv_text(self, value: dt.date) -> str:
        return value.isoformat()

    def audit_encode(self, value: dt.date) -> Any:
        return {"t": "date", "v": value.isoformat()}

    def audit_decode(self, data: Any) -> Any:
        return dt.date.fromisoformat(data)


@reads(dt.time)
class Time(ValueType):
    tag = "time"

    def show(self, value: dt.time, preview: bool) -> Cell:
        return Cell("date", value.isoformat())

    def text(self, value: dt.time) -> str:
        return value.isoformat()

    def csv_text(self, value: dt.time) -> str:
        return value.isoformat()

    def audit_encode(self, value: dt.time) -> Any:
        return {"t": "time", "v": value.isoformat()}

    def audit_decode(self, data: Any) -> Any:
        return dt.time.fromisoformat(data)


@reads(dt.timedelta)
class Duration(ValueType):
    tag = "timedelta"

    def show(self, value: dt.timedelta, preview: bool) -> Cell:
        return Cell("date", str(value))

    def input_text(self, value: dt.timedelta) -> str:
        return duration_text(value)

    def key_text(self, value: dt.timedelta) -> str:
        return duration_literal(value)  # no comma, which would split an `in` filter

    def audit_encode(self, value: dt.timedelta) -> Any:
        return {"t": "timedelta", "v": [value.days, value.seconds, value.microseconds]}

    def audit_decode(self, data: Any) -> Any:
        return dt.timedelta(days=data[0], seconds=data[1], microseconds=data[2])


def duration_text(value: dt.timedelta) -> str:
    """A duration as `[D days, ]HH:MM:SS[.ffffff]`, the form inputs' text."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if value.microseconds:
        text += f".{value.microseconds:06d}"
    if value.days:
        text = f"{value.days} day{'s' if value.days != 1 else ''}, {text}"
    return sign + text


@reads(bytes, bytearray, memoryview)
class Binary(ValueType):
    tag = "bytes"

    def show(self, value: bytes, preview: bool) -> Cell:
        return show_binary(len(value), bytes(value[:BINARY_PREVIEW_BYTES]))

    def text(self, value: bytes) -> str:
        return bytes(value).hex()

    def csv_text(self, value: bytes) -> str:
        return bytes(value).hex()

    def input_text(self, value: bytes) -> str:
        return ""

    def audit_encode(self, value: bytes) -> Any:
        return {"t": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}

    def audit_decode(self, data: Any) -> Any:
        return base64.b64decode(data)

    def canonical(self, value: bytes) -> bytes:
        return b"b:%d:" % len(value) + bytes(value)


@reads(dict, list)
class Json(ValueType):
    tag = "json"

    def show(self, value: Any, preview: bool) -> Cell:
        indent = None if preview else 2
        return text_cell("json", json.dumps(value, ensure_ascii=False, indent=indent), preview)

    def csv_text(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    def json_value(self, value: Any) -> Any:
        return value

    def input_text(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, indent=2)

    def audit_encode(self, value: Any) -> Any:
        return {"t": "json", "v": value}

    def audit_decode(self, data: Any) -> Any:
        return data

    def canonical(self, value: Any) -> bytes:
        return b"j:" + json.dumps(value, sort_keys=True, default=str).encode("utf-8")


@reads(uuid.UUID)
class Uuid(ValueType):
    tag = "uuid"

    def audit_encode(self, value: uuid.UUID) -> Any:
        return {"t": "uuid", "v": str(value)}

    def audit_decode(self, data: Any) -> Any:
        return uuid.UUID(data)


@reads(SpecialMoment)
class Moment(ValueType):
    """PostgreSQL's infinite dates and timestamps, by their text."""

    tag = "moment"

    def show(self, value: SpecialMoment, preview: bool) -> Cell:
        return Cell("date", value.text)

    def audit_encode(self, value: SpecialMoment) -> Any:
        return {"t": "moment", "v": value.text}

    def audit_decode(self, data: Any) -> Any:
        return SpecialMoment(data)


@reads(Undecodable)
class Unreadable(ValueType):
    """A value the driver could not decode: shown as an error, kept as stored. One whose
    raw value is the driver's own (SQLite's 'noon' in a TIME column, text that is not
    UTF-8) is logged as that raw value and written back as it (see `stored_bind`)."""

    tag = "stored"

    def show(self, value: Undecodable, preview: bool) -> Cell:
        if value.reason in STORED_REASONS:  # readable, just not in Python
            return text_cell("stored", stored_text(value.raw), preview)
        return Cell("error", str(value))

    def csv_text(self, value: Undecodable) -> str:
        return stored_text(value.raw)

    def input_text(self, value: Undecodable) -> str:
        return value.raw if isinstance(value.raw, str) else repr(value.raw)

    def key_text(self, value: Undecodable) -> str:
        if value.reason == OUT_OF_RANGE and isinstance(value.raw, str):
            return value.raw  # what the column's kind reads back (moments, pg_text)
        return str(value)

    def audit_encode(self, value: Undecodable) -> Any:
        if value.reason == OUT_OF_RANGE and isinstance(value.raw, str):
            return {"t": FarMoment.tag, "v": value.raw}
        if restorable(value):  # an Undecodable here
            raw = value_type(value.raw).audit_encode(value.raw)
            return {"t": "stored", "v": {"reason": value.reason, "raw": raw}}
        return {"t": "unrestorable", "v": str(value)}

    def audit_decode(self, data: Any) -> Any:
        return Undecodable(audit_decode(data["raw"]), data["reason"])

    def canonical(self, value: Undecodable) -> bytes:
        return b"u:" + repr(value.raw).encode("utf-8", "surrogatepass")


class FarMoment(ValueType):
    """The audit log's PostgreSQL date, timestamp or time beyond Python's range, kept as the
    text the database writes: restored through the connection's codecs (pg_text)."""

    tag = "pg_far_moment"

    def audit_decode(self, data: Any) -> Any:
        return Undecodable(str(data), OUT_OF_RANGE)


_BY_TAG[FarMoment.tag] = FarMoment()


@reads(Unrestorable)
class Described(ValueType):
    tag = "unrestorable"

    def audit_encode(self, value: Unrestorable) -> Any:
        return {"t": "unrestorable", "v": str(value)}


_BY_TAG["unrestorable"] = GENERIC


# The CSV text of the commonest exact types as plain functions (no method call per value):
# what their ValueType.csv_text returns, for the download loop.
CSV_FAST: dict[type, Callable[[Any], str]] = {
    str: str,
    int: str,
    float: repr,
    decimal.Decimal: operator.methodcaller("__format__", "f"),
    dt.datetime: operator.methodcaller("isoformat", " "),
    dt.date: operator.methodcaller("isoformat"),
}


RAW_TYPES = (str, bytes, int, float)  # what a driver returns undecoded (SQLite's classes)
RAW_SQL_TYPES: dict[type, type[sa.types.TypeEngine[Any]]] = {
    str: sa.String,
    bytes: sa.LargeBinary,
    int: sa.BigInteger,
    float: sa.Float,
}


def restorable(value: Any) -> bool:
    """Whether `value`, read from a column whose type it is not of (SQLite keeps anything
    anywhere) or unreadable, is the driver's raw value, so writing that back past the
    column type's conversion restores it exactly (not a text form the database wrote, nor
    a value Python cannot hold)."""
    if not isinstance(value, Undecodable):
        return True
    return value.reason not in (AS_TEXT, OUT_OF_RANGE) and type(value.raw) in RAW_TYPES


def stored_bind(value: Any) -> ColumnElement[Any]:
    """What an INSERT or UPDATE writes to restore a value not of its column's type (SQLite
    keeps 'abc' in an INTEGER column) or unreadable: the value as the driver gave it, past
    the column type's conversion; text that is not UTF-8 (which the driver hands over as
    bytes) cast back to text."""
    if isinstance(value, Undecodable):
        if value.reason == NOT_UTF8 and isinstance(value.raw, bytes):
            return sa.cast(sa.literal(value.raw, sa.LargeBinary()), sa.Text())
        value = value.raw
    # A typed parameter: one of NullType would take the column's type (and its conversion).
    raw_type = RAW_SQL_TYPES.get(type(value))
    return sa.literal(value, raw_type() if raw_type is not None else NullType())


def stored_text(raw: Any) -> str:
    """A raw value as it is stored (bytes as UTF-8, what cannot be read replaced)."""
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw).decode("utf-8", errors="backslashreplace")
    return str(raw)


def show_value(value: Any, preview: bool) -> Cell:
    """A cell for a value without its column; `preview` shortens long values for lists."""
    if value is None:
        return NULL_CELL
    if type(value) is str and value and (not preview or len(value) <= PREVIEW_CHARS):
        return Cell("text", value)  # the commonest case, first: this runs for many cells
    return value_type(value).show(value, preview)
