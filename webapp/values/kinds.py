"""Column kinds: per dialect and column type, one `ValueKind` that knows everything done with
that column's values: how they are fetched for list and record pages, shown, written into
and read back from a URL key, parsed from a filter or a form, written to CSV and JSON. The
classes are picked by `@converts` rules (registry.py), in the spirit of sqladmin's
converters and Django's Field classes. This module holds the base class and the kinds of
text, enum, JSON, binary and boolean columns; numbers.py and moments.py the others. Values
of an unexpected Python type (SQLite stores anything anywhere) fall back to how that type
reads (pytypes.py)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Text, cast, func
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from webapp.database.decoding import Undecodable
from webapp.database.dialects import binary_length, has_special_values, text_form, text_head
from webapp.database.pg_text import INFINITIES, SpecialMoment
from webapp.values.cells import BINARY_PREVIEW_BYTES, PREVIEW_CHARS, Cell, show_binary, text_cell
from webapp.values.pytypes import BY_TYPE, CSV_FAST, show_value, value_type


class BadKey(ValueError):
    """URL text that cannot be a value of the key column."""


class BadValue(ValueError):
    """Text from a request that is not a value of the column's type; the message says so."""


class FieldError(ValueError):
    """What is wrong with one field's input, in words for the user."""


TRUE_WORDS = ("1", "true", "yes", "on", "t")
FALSE_WORDS = ("0", "false", "no", "off", "f")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Python types whose json_value is always text (pytypes: their CSV text).
TEXT_ONLY_TYPES = frozenset({decimal.Decimal, dt.datetime, dt.date, dt.time, dt.timedelta})
# The integers every JSON reader holds exactly (an IEEE double's); larger ones go as text.
JSON_SAFE_INT = 2**53
SPECIAL_NUMBERS = ("nan", "infinity", "-infinity", "+infinity", "inf", "-inf", "+inf")


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


def python_type_of(type_: TypeEngine[Any]) -> type | None:
    """The Python type a column's values come back as, if SQLAlchemy knows it."""
    try:
        return type_.python_type
    except NotImplementedError:
        return None


class ValueKind:
    """The values of one column. The defaults read values by their Python type, fetch the
    column whole, and take typed text as it is; subclasses refine what their type needs."""

    family = "other"  # number, bool, date, text, json, binary, unknown or other
    parse_as = "unknown"  # the form's parser; "unknown": not editable here
    widget = "text"  # text, textarea, bool, enum, file or readonly
    noun = ""  # what the column holds, for filter errors ("whole numbers")
    hint = ""  # placeholder of the form input
    # The Python types this column's values come as; a value of another type (SQLite keeps
    # anything anywhere, MySQL a zero date) is shown as stored and kept as it is. Empty:
    # any type.
    accepted: tuple[type, ...] = ()
    # CSV text by exact Python type, where the type alone says it (see pytypes.CSV_FAST).
    csv_fast: dict[type, Callable[[Any], str]] = CSV_FAST
    # The Python types whose values the JSON API writes as they are (`api_value` would
    # return them unchanged), and whether an int within JSON's exact range is one of them:
    # the API's rows skip the call for those (this runs for every value of a page).
    api_plain: frozenset[type] = frozenset({str, type(None), bool})
    api_plain_ints = True

    def __init__(self, column: Column, dialect: Dialect | None) -> None:
        self.column = column
        self.dialect = dialect
        self.python_type = python_type_of(column.type)

    # --- fetching -----------------------------------------------------------------------

    def record_expression(self) -> ColumnElement[Any]:
        """What to select for a record page, an edit form and the write path."""
        return self.column

    def list_column(self, keep_whole: bool) -> ListColumn:
        """The list page's fetch plan; `keep_whole` for key columns, whose values make
        links. A value not of the column's type (SQLite's '' in an INTEGER column) is shown
        by `show`, marked."""
        if not self.accepted:
            return ListColumn(self.column, (self.column,), _show_first, plain=True)
        return ListColumn(self.column, (self.column,), self._show_listed, plain=True)

    def _show_listed(self, values: tuple[Any, ...]) -> Cell:
        return self.show(values[0], True)

    @property
    def special(self) -> bool:
        """Whether the database has NaN, infinite numbers and `infinity` dates."""
        return self.dialect is not None and has_special_values(self.dialect)

    def special_moment(self, text: str) -> SpecialMoment | None:
        """`infinity` or `-infinity` typed for a date where the database has them."""
        word = text.strip().lower()
        return SpecialMoment(word) if word in INFINITIES and self.special else None

    @property
    def driver_type(self) -> type | None:
        """The exact type the driver returns this column's values as, when that alone says
        how a value is shown (rows_html writes those straight away)."""
        return self.python_type

    # --- showing and writing out --------------------------------------------------------

    def fits(self, value: Any) -> bool:
        """Whether `value` is one of this column's values (NULL is): only those are edited
        and filtered for; anything else is kept exactly as it is stored."""
        if value is None:
            return True
        if isinstance(value, Undecodable):
            return False
        return not self.accepted or isinstance(value, self.accepted)

    def editable(self, value: Any) -> bool:
        """Whether the form can show `value` for editing; one it cannot is kept as it is."""
        return self.fits(value)

    def show(self, value: Any, preview: bool) -> Cell:
        if self.accepted and not self.fits(value):
            return stored_cell(value, preview)
        return show_value(value, preview)

    def key_text(self, value: Any) -> str:
        return value_type(value).key_text(value)

    def input_text(self, value: Any) -> str:
        return "" if value is None else value_type(value).input_text(value)

    def csv_text(self, value: Any) -> str:
        if value is None:
            return ""
        return (BY_TYPE.get(type(value)) or value_type(value)).csv_text(value)

    def json_value(self, value: Any) -> Any:
        if value is None:
            return None
        return (BY_TYPE.get(type(value)) or value_type(value)).json_value(value)

    def api_value(self, value: Any) -> Any:
        """A value in the JSON API: as `json_value` (numbers, booleans, JSON documents,
        decimals as their digits), but exact for any JSON reader: an integer beyond 2**53
        as its digits, binary as base64, and any other value as the text the form reads
        back. A JSON column's `null` document and SQL NULL are both `null`."""
        if isinstance(value, bytes | bytearray | memoryview):
            return base64.b64encode(bytes(value)).decode("ascii")
        if type(value) in TEXT_ONLY_TYPES and self.parse_as not in ("json", "unknown"):
            # JSON holds these only as text (json_value's): the form's text when editable.
            return self.input_text(value) if self.editable(value) else self.json_value(value)
        result = self.json_value(value)
        if (
            type(result) is int
            and not -JSON_SAFE_INT <= result <= JSON_SAFE_INT
            and self.parse_as != "json"  # a document's number stays a number
        ):
            return str(result)
        if (
            isinstance(result, str)
            and not isinstance(value, str)
            and self.parse_as not in ("json", "unknown")
            and self.editable(value)
        ):
            # A value JSON has no type for (a date, a duration): the form's text of it,
            # which `parse_api` reads back as the same value.
            return self.input_text(value)
        return result

    def parse_api(self, value: Any) -> Any:
        """The inverse of `api_value`, for a value a JSON client sends: null, a JSON
        document for a JSON column, base64 for binary, else a number, boolean or text read
        as the form reads its field; FieldError says what is wrong."""
        if value is None:
            return None
        if self.parse_as == "binary":
            if not isinstance(value, str):
                raise FieldError("Binary values are sent as base64 text.")
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise FieldError("Not valid base64.") from None
        if self.parse_as == "json":
            return self.parse_input(json.dumps(value, ensure_ascii=False))
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, float):
            text = repr(value)
        elif isinstance(value, str):
            text = value
        else:
            raise FieldError("Expected a number, a boolean, text or null.")
        return self.parse_input(text)

    # --- reading text back --------------------------------------------------------------

    def parse_key(self, text: str) -> Any:
        """The inverse of `key_text`; BadKey when the text cannot be a value."""
        return text

    def parse_filter(self, text: str) -> Any:
        """A value from text a person typed in a filter (or a facet link); BadValue."""
        if self.noun:
            try:
                value = self.parse_key(text.strip())
                self.check_range(value)
                return value
            except BadKey:
                raise BadValue(
                    f"{self.column.name!r} holds {self.noun}, not {text[:40]!r}"
                ) from None
        return text

    def check_range(self, value: Any) -> None:
        """Refuse (BadKey) a value the database would fail to compare."""

    def parse_input(self, text: str) -> Any:
        """A value from a form field's text; FieldError saying what is wrong."""
        raise FieldError("This column's type cannot be edited here.")

    def bind_value(self, value: Any) -> Any:
        """What an INSERT or UPDATE writes for `value` (an expression where the database
        must convert it)."""
        return value

    def same(self, current: Any, new: Any) -> bool:
        """Whether a parsed input equals the stored value (an unchanged field)."""
        return same_stored(current, new)


def same_stored(current: Any, new: Any) -> bool:
    """Equal values of the same type (numbers of any type compare as numbers; MySQL's TIME
    reads as a duration and is typed as a time of day)."""
    if isinstance(current, dt.timedelta) and isinstance(new, dt.time):
        return current == dt.timedelta(
            hours=new.hour, minutes=new.minute, seconds=new.second, microseconds=new.microsecond
        )
    if type(current) is not type(new) and not _both_numbers(current, new):
        return False
    if _is_nan(current) and _is_nan(new):
        return True
    return bool(current == new)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float | decimal.Decimal) and value != value


def _both_numbers(current: Any, new: Any) -> bool:
    numbers = (int, float, decimal.Decimal, bool)
    return isinstance(current, numbers) and isinstance(new, numbers)


def stored_cell(value: Any, preview: bool) -> Cell:
    """A value that is not of its column's type, shown as the database holds it, marked."""
    if isinstance(value, Undecodable):
        return show_value(value, preview)
    cell = show_value(value, preview)
    if cell.kind == "null":
        return cell
    if cell.kind == "empty":
        return Cell("stored", "(empty string)")
    return text_cell("stored", cell.text, preview)


def _show_first(values: tuple[Any, ...]) -> Cell:
    return show_value(values[0], True)


class UnknownKind(ValueKind):
    """A type SQLAlchemy does not know: the database's text form, read-only."""

    family = "unknown"
    widget = "readonly"
    hint = "a type this app cannot edit"

    def record_expression(self) -> ColumnElement[Any]:
        return text_form(self.column, need_dialect(self.dialect)).label(self.column.name)

    def list_column(self, keep_whole: bool) -> ListColumn:
        source = text_form(self.column, need_dialect(self.dialect))
        if keep_whole or source is self.column:  # no text form to cut short
            return super().list_column(keep_whole)
        return cut_text(self, source, "text")


class OtherKind(ValueKind):
    """A type SQLAlchemy knows that has no kind of its own: shown as read, not editable."""

    widget = "readonly"
    hint = "a type this app cannot edit"

    def list_column(self, keep_whole: bool) -> ListColumn:
        return ListColumn(self.column, (self.column,), _show_first, plain=True)

    @property
    def driver_type(self) -> type | None:
        return None


def need_dialect(dialect: Dialect | None) -> Dialect:
    if dialect is None:
        raise RuntimeError("this column's kind needs its dialect: use kind_for(column, dialect)")
    return dialect


def cut_text(kind: ValueKind, source: ColumnElement[Any], cell_kind: str) -> ListColumn:
    """Text cut to PREVIEW_CHARS + 1 characters in the database (enough to know it was
    cut), shown as `cell_kind`."""

    def show(values: tuple[Any, ...]) -> Cell:
        value = values[0]
        if value is None or value == "" or isinstance(value, Undecodable):
            return show_value(value, True)
        if isinstance(value, bytes):  # SQLite: a blob in a text column
            return binary_head(value)
        return text_cell(cell_kind, str(value), True)

    return ListColumn(
        kind.column,
        (text_head(source, PREVIEW_CHARS + 1, kind.dialect),),
        show,
        cut_kind=cell_kind,
    )


def binary_head(head: bytes) -> Cell:
    """A blob fetched cut to PREVIEW_CHARS + 1 bytes: its size is known only if it was not
    cut."""
    if len(head) <= PREVIEW_CHARS:
        return show_value(head, True)
    return Cell("binary", f"over {PREVIEW_CHARS:,} bytes: {head[:BINARY_PREVIEW_BYTES].hex(' ')}…")


class TextKind(ValueKind):
    family = "text"
    parse_as = "text"

    def __init__(self, column: Column, dialect: Dialect | None) -> None:
        super().__init__(column, dialect)
        length = getattr(column.type, "length", None)
        self.maxlength = length if isinstance(length, int) else None
        if isinstance(column.type, Text) or not length or length > 255:
            self.widget = "textarea"

    def list_column(self, keep_whole: bool) -> ListColumn:
        length = getattr(self.column.type, "length", None)
        long = isinstance(self.column.type, Text) or length is None or length > PREVIEW_CHARS
        if keep_whole or not long:
            return super().list_column(keep_whole)
        return cut_text(self, self.column, "text")

    def editable(self, value: Any) -> bool:
        """Text longer than the column declares, or a blob (SQLite keeps either), is kept as
        it is: the form would refuse the one and cannot show the other."""
        if isinstance(value, bytes | bytearray | memoryview):
            return False
        if isinstance(value, str) and self.maxlength is not None:
            return len(value) <= self.maxlength
        return super().editable(value)

    def parse_input(self, text: str) -> Any:
        if self.maxlength is not None and len(text) > self.maxlength:
            raise FieldError(
                f"At most {self.maxlength:,} characters; this is {len(text):,} characters long."
            )
        return text


class PlainTextKind(TextKind):
    """Text of a type that is not SQL text (its values are str): edited as text, fetched
    whole."""

    family = "other"

    def list_column(self, keep_whole: bool) -> ListColumn:
        return ValueKind.list_column(self, keep_whole)


class EnumKind(ValueKind):
    family = "other"
    parse_as = "enum"
    widget = "enum"

    def __init__(self, column: Column, dialect: Dialect | None) -> None:
        super().__init__(column, dialect)
        self.choices: tuple[str, ...] = tuple(getattr(column.type, "enums", ()) or ())
        # The form's option for NULL (or none chosen) sends "", unless '' is a member: then
        # a text that is none, so the member '' stays a value.
        self.null_choice = "" if "" not in self.choices else _not_among(self.choices)

    @property
    def driver_type(self) -> type | None:
        return str

    def parse_filter(self, text: str) -> Any:
        if self.choices and text not in self.choices:
            allowed = ", ".join(self.choices)
            raise BadValue(f"{self.column.name!r} holds one of {allowed}, not {text[:40]!r}")
        return text

    def parse_input(self, text: str) -> Any:
        if text not in self.choices:
            raise FieldError("Choose one of the listed values.")
        return text


def _not_among(choices: tuple[str, ...]) -> str:
    text = "NULL"
    while text in choices:
        text = f"({text})"
    return text


class JsonKind(ValueKind):
    family = "json"
    parse_as = "json"
    widget = "textarea"
    hint = "JSON"

    def list_column(self, keep_whole: bool) -> ListColumn:
        if keep_whole:
            return super().list_column(keep_whole)
        return cut_text(self, cast(self.column, Text), "json")

    def parse_input(self, text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise FieldError(
                f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None


class BinaryKind(ValueKind):
    family = "binary"
    parse_as = "binary"
    widget = "file"
    hint = "upload a file"
    accepted = (bytes, bytearray, memoryview)

    def list_column(self, keep_whole: bool) -> ListColumn:
        if keep_whole:
            return super().list_column(keep_whole)
        # Enough of a text value (SQLite keeps text in a BLOB column) to show it as a list does.
        head = func.substr(self.column, 1, max(BINARY_PREVIEW_BYTES, PREVIEW_CHARS + 1))
        size = binary_length(self.column, need_dialect(self.dialect))
        return ListColumn(self.column, (size, head), _show_binary_preview)

    def parse_key(self, text: str) -> Any:
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise BadKey(text) from None


def _show_binary_preview(values: tuple[Any, ...]) -> Cell:
    """A binary value by size and first bytes; a zero-length value's head may come back
    NULL (SQLite's substr of an empty blob), which is no head at all."""
    size, head = values
    if size is None or isinstance(size, Undecodable):
        return show_value(size, True)
    if isinstance(head, Undecodable):
        return show_value(head, True)
    if isinstance(head, str):  # SQLite: text (or a number, as text) in a BLOB column
        return stored_cell(head, True)
    return show_binary(size, bytes(head or b""))


class BoolKind(ValueKind):
    family = "bool"
    parse_as = "bool"
    widget = "bool"
    api_plain_ints = False  # MySQL's BOOLEAN reads as 0 and 1: written as false and true
    csv_fast = {type_: write for type_, write in CSV_FAST.items() if type_ is not int}

    @property
    def driver_type(self) -> type | None:
        return None

    def list_column(self, keep_whole: bool) -> ListColumn:
        return ListColumn(self.column, (self.column,), lambda values: self.show(values[0], True))

    def __init__(self, column: Column, dialect: Dialect | None) -> None:
        super().__init__(column, dialect)
        # MySQL's BOOLEAN is TINYINT(1): any small number, read as an int.
        self.accepted = (bool,) if self.python_type is bool else (int,)

    def editable(self, value: Any) -> bool:
        return value is None or isinstance(value, bool) or (type(value) is int and value in (0, 1))

    def show(self, value: Any, preview: bool) -> Cell:
        if type(value) is int and value in (0, 1):
            value = bool(value)
        elif not self.fits(value):
            return stored_cell(value, preview)
        return show_value(value, preview)

    def csv_text(self, value: Any) -> str:
        if type(value) is int and value in (0, 1):
            return "true" if value else "false"
        return super().csv_text(value)

    def json_value(self, value: Any) -> Any:
        if type(value) is int and value in (0, 1):
            return bool(value)
        return super().json_value(value)

    def parse_key(self, text: str) -> Any:
        if self.python_type is bool:
            return text in ("1", "true")
        try:
            return int(text)
        except ValueError:
            raise BadKey(text) from None

    def parse_filter(self, text: str) -> Any:
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        if self.python_type is int and re.fullmatch(r"[+-]?\d{1,4}", word):
            return int(word)  # a TINYINT(1) holding another number, as its facet links it
        raise BadValue(f"{self.column.name!r} holds true or false, not {text[:40]!r}")

    def parse_input(self, text: str) -> Any:
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
        raise FieldError("Choose true or false.")
