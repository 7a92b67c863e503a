"""Form inputs per column type: which widget a column gets, the exact text a value is shown
as in it, and how what the browser sends back is parsed and checked. The twin of fields.py
(which shows values): every value must survive the trip value -> form text -> value."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Enum, Integer, Interval, Numeric, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType

from .decoding import Undecodable
from .dialects import database_fills, decimal_digit_limit, time_is_duration
from .fields import column_family, python_type_of

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INPUT_MAX_CHARS = 200


class FieldError(ValueError):
    """What is wrong with one field's input, in words for the user."""


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()
"""A field whose value stays as it is: a binary field with no file chosen."""


@dataclass(frozen=True)
class Upload:
    """A file the browser sent for a binary field."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class InputSpec:
    """How one column is edited: `kind` picks the widget (text, textarea, bool, enum, file,
    select, readonly); `name` is the form field (by position, so any column name works)."""

    column: Column
    name: str
    kind: str
    parse_as: str
    nullable: bool
    database_fills: bool
    has_default: bool
    maxlength: int | None = None
    choices: tuple[str, ...] = ()
    hint: str = ""

    @property
    def null_name(self) -> str:
        return self.name + ":null"

    @property
    def default_name(self) -> str:
        return self.name + ":default"


def input_spec(column: Column, position: int, dialect: Dialect) -> InputSpec:
    """The input for `column` of a reflected table on `dialect`."""
    parse_as = _parse_kind(column)
    kind = {
        "bool": "bool",
        "enum": "enum",
        "binary": "file",
        "json": "textarea",
        "unknown": "readonly",
    }.get(parse_as, "text")
    length = getattr(column.type, "length", None)
    if parse_as == "text" and (isinstance(column.type, Text) or not length or length > 255):
        kind = "textarea"
    if column.computed is not None:
        kind = "readonly"
    return InputSpec(
        column=column,
        name=f"c{position}",
        kind=kind,
        parse_as=parse_as,
        nullable=bool(column.nullable) and not column.primary_key,
        database_fills=database_fills(column, dialect),
        has_default=column.server_default is not None,
        maxlength=length if parse_as == "text" and isinstance(length, int) else None,
        choices=tuple(column.type.enums) if parse_as == "enum" else (),
        hint=_hint(column, parse_as),
    )


def _parse_kind(column: Column) -> str:
    type_ = column.type
    family = column_family(type_)
    if isinstance(type_, NullType):
        return "unknown"
    if isinstance(type_, Enum):
        return "enum"
    if family in ("json", "binary", "bool", "text"):
        return family
    python_type = python_type_of(type_)
    if isinstance(type_, Integer) or python_type is int:
        return "int"
    if python_type is decimal.Decimal or (
        isinstance(type_, Numeric) and python_type is None and getattr(type_, "asdecimal", True)
    ):
        return "decimal"
    if python_type is float:
        return "float"
    if isinstance(type_, Interval) or python_type is dt.timedelta:
        return "interval"
    if python_type is dt.datetime:
        return "datetime"
    if python_type is dt.date:
        return "date"
    if python_type is dt.time:
        return "time"
    if python_type is uuid.UUID:
        return "uuid"
    if python_type is str:
        return "text"
    return "unknown"


def _hint(column: Column, parse_as: str) -> str:
    type_ = column.type
    if parse_as == "decimal":
        precision, scale = getattr(type_, "precision", None), getattr(type_, "scale", None)
        if precision is not None:
            return f"up to {precision - (scale or 0)} digits, {scale or 0} after the point"
        return "an exact decimal number"
    return {
        "int": "a whole number",
        "float": "a number",
        "datetime": "YYYY-MM-DD HH:MM:SS.ffffff",
        "date": "YYYY-MM-DD",
        "time": "HH:MM:SS.ffffff",
        "interval": "[D days, ]HH:MM:SS.ffffff",
        "json": "JSON",
        "uuid": "a UUID",
        "binary": "upload a file",
        "unknown": "a type this app cannot edit",
    }.get(parse_as, "")


# --- value -> form text ---------------------------------------------------------------------


def input_text(value: Any) -> str:
    """The exact text of a value inside an input: parsing it gives the value back."""
    if value is None:
        return ""
    if isinstance(value, Undecodable):
        return value.raw if isinstance(value.raw, str) else repr(value.raw)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _timedelta_text(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, indent=2)
    if isinstance(value, bytes | bytearray | memoryview):
        return ""
    return str(value)


def _timedelta_text(value: dt.timedelta) -> str:
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


def needs_textarea(spec: InputSpec, text: str) -> bool:
    """A one-line input would lose line breaks (browsers strip them), so any value holding
    one is edited in a textarea."""
    return spec.kind == "textarea" or (spec.kind == "text" and ("\n" in text or "\r" in text))


# --- form text -> value ---------------------------------------------------------------------


def parse_input(spec: InputSpec, raw: Any, dialect: Dialect) -> Any:
    """The value for `spec`'s column from what the browser sent (text, or an Upload for a
    file field); raises FieldError saying what is wrong."""
    kind = spec.parse_as
    if kind == "binary":
        if isinstance(raw, Upload):
            return raw.data
        return UNCHANGED
    text = raw if isinstance(raw, str) else ""
    parser = _PARSERS.get(kind)
    if parser is None:
        raise FieldError("This column's type cannot be edited here.")
    return parser(spec, text, dialect)


def _parse_int(spec: InputSpec, text: str, _dialect: Dialect) -> int:
    cleaned = text.strip()
    if not re.fullmatch(r"[+-]?\d+", cleaned):
        raise FieldError("Enter a whole number, like 42 or -7.")
    value = int(cleaned)
    if not INT64_MIN <= value <= INT64_MAX:
        raise FieldError("This number is too large for the column.")
    return value


def _parse_decimal(spec: InputSpec, text: str, dialect: Dialect) -> decimal.Decimal:
    cleaned = text.strip()
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", cleaned):
        raise FieldError("Enter a decimal number, like 12.50.")
    value = decimal.Decimal(cleaned)
    precision = getattr(spec.column.type, "precision", None)
    scale = getattr(spec.column.type, "scale", None) or 0
    digits, exponent = _significant_digits(value)
    if precision is not None and value:
        if -exponent > scale:
            raise FieldError(f"At most {scale} digits after the point.")
        if value.adjusted() + 1 > precision - scale:
            raise FieldError(f"At most {precision - scale} digits before the point.")
    limit = decimal_digit_limit(dialect)
    if limit is not None and len(digits) > limit:
        raise FieldError(f"This database keeps only {limit} significant digits of a decimal.")
    return value


def _significant_digits(value: decimal.Decimal) -> tuple[tuple[int, ...], int]:
    """The digits and exponent without trailing zeros (Decimal.normalize would round to the
    context's 28 digits)."""
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    while len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    return digits, exponent


def _parse_float(spec: InputSpec, text: str, _dialect: Dialect) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise FieldError("Enter a number, like 3.25 or 1e-3.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FieldError("Enter a finite number.")
    return value


def _parse_bool(spec: InputSpec, text: str, _dialect: Dialect) -> bool:
    if text in ("1", "true"):
        return True
    if text in ("0", "false"):
        return False
    raise FieldError("Choose true or false.")


def _fraction_digits(spec: InputSpec) -> int | None:
    type_ = spec.column.type
    for attribute in ("fsp", "precision"):
        value = getattr(type_, attribute, None)
        if isinstance(value, int):
            return value
    return None


def _check_fraction(spec: InputSpec, microsecond: int) -> None:
    digits = _fraction_digits(spec)
    if digits is not None and digits < 6 and microsecond % 10 ** (6 - digits):
        if digits == 0:
            raise FieldError("This column keeps whole seconds only.")
        raise FieldError(f"This column keeps {digits} digits of a second.")


def _parse_datetime(spec: InputSpec, text: str, _dialect: Dialect) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise FieldError("Enter a date and time as YYYY-MM-DD HH:MM:SS.ffffff.") from None
    wants_zone = bool(getattr(spec.column.type, "timezone", False))
    if wants_zone and value.tzinfo is None:
        raise FieldError("Include the UTC offset, like 2024-05-01 12:00:00+00:00.")
    if not wants_zone and value.tzinfo is not None:
        raise FieldError("This column holds times without a UTC offset; leave it out.")
    _check_fraction(spec, value.microsecond)
    return value


def _parse_date(spec: InputSpec, text: str, _dialect: Dialect) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise FieldError("Enter a date as YYYY-MM-DD.") from None


def _parse_time(spec: InputSpec, text: str, dialect: Dialect) -> dt.time | dt.timedelta:
    try:
        value = dt.time.fromisoformat(text.strip())
    except ValueError:
        # MySQL's TIME is a duration (-838:59:59 to 838:59:59), read as a timedelta.
        if time_is_duration(dialect) and _INTERVAL.fullmatch(text.strip()):
            return _parse_interval(spec, text, dialect)
        raise FieldError("Enter a time as HH:MM:SS.ffffff.") from None
    _check_fraction(spec, value.microsecond)
    return value


_INTERVAL = re.compile(
    r"(?P<sign>-)?(?:(?P<days>\d+) days?,? )?"
    r"(?P<h>\d+):(?P<m>\d\d)(?::(?P<s>\d\d)(?P<f>\.\d{1,6})?)?"
)


def _parse_interval(spec: InputSpec, text: str, _dialect: Dialect) -> dt.timedelta:
    match = _INTERVAL.fullmatch(text.strip())
    if match is None:
        raise FieldError("Enter a duration as [D days, ]HH:MM:SS.ffffff.")
    value = dt.timedelta(
        days=int(match["days"] or 0),
        hours=int(match["h"]),
        minutes=int(match["m"]),
        seconds=int(match["s"] or 0),
        microseconds=int((match["f"] or ".0")[1:].ljust(6, "0")),
    )
    return -value if match["sign"] else value


def _parse_enum(spec: InputSpec, text: str, _dialect: Dialect) -> str:
    if text not in spec.choices:
        raise FieldError("Choose one of the listed values.")
    return text


def _parse_json(spec: InputSpec, text: str, _dialect: Dialect) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FieldError(
            f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None


def _parse_uuid(spec: InputSpec, text: str, _dialect: Dialect) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise FieldError("Enter a UUID, like 123e4567-e89b-12d3-a456-426614174000.") from None


def _parse_text(spec: InputSpec, text: str, _dialect: Dialect) -> str:
    if spec.maxlength is not None and len(text) > spec.maxlength:
        raise FieldError(
            f"At most {spec.maxlength:,} characters; this is {len(text):,} characters long."
        )
    return text


_PARSERS = {
    "int": _parse_int,
    "decimal": _parse_decimal,
    "float": _parse_float,
    "bool": _parse_bool,
    "datetime": _parse_datetime,
    "date": _parse_date,
    "time": _parse_time,
    "interval": _parse_interval,
    "enum": _parse_enum,
    "json": _parse_json,
    "uuid": _parse_uuid,
    "text": _parse_text,
}


# --- comparing with what is stored ----------------------------------------------------------


def resolve(current: Any, new: Any) -> Any:
    """What to write over `current` given the parsed input `new`: UNCHANGED when they are the
    same value, so an unchanged form writes nothing. Browsers send a textarea's line breaks
    as CRLF, so text differing only in those is the same, and changed text keeps the line
    breaks the stored value used."""
    if new is UNCHANGED:
        return UNCHANGED
    if isinstance(current, memoryview | bytearray):
        current = bytes(current)
    if isinstance(current, str) and isinstance(new, str):
        if _lf(current) == _lf(new):
            return UNCHANGED
        return new if "\r" in current else _lf(new)
    if isinstance(current, dt.timedelta) and isinstance(new, dt.time):
        new_delta = dt.timedelta(
            hours=new.hour, minutes=new.minute, seconds=new.second, microseconds=new.microsecond
        )
        return UNCHANGED if new_delta == current else new
    if current is None or new is None:
        return UNCHANGED if current is new else new
    if type(current) is not type(new) and not _same_kind(current, new):
        return new
    return UNCHANGED if current == new else new


def new_text(value: Any) -> Any:
    """A value for a new row: line breaks as LF (the browser sent CRLF)."""
    return _lf(value) if isinstance(value, str) else value


def _lf(text: str) -> str:
    return _LINE_BREAK.sub("\n", text)


_LINE_BREAK = re.compile(r"\r\n?")


def _same_kind(current: Any, new: Any) -> bool:
    numbers = (int, float, decimal.Decimal, bool)
    return isinstance(current, numbers) and isinstance(new, numbers)


__all__ = [
    "UNCHANGED",
    "FieldError",
    "InputSpec",
    "Upload",
    "input_spec",
    "input_text",
    "needs_textarea",
    "new_text",
    "parse_input",
    "resolve",
]
