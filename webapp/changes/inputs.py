"""Form inputs: which widget a column gets, the exact text a value is shown as in it, and
how what the browser sends back is parsed and checked, each as the column's value kind
(webapp/values) says: every value must survive the trip value -> form text -> value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column
from sqlalchemy.engine import Dialect

from webapp.database.dialects import database_fills
from webapp.values import FieldError, ValueKind, kind_for, value_type
from webapp.values.kinds import same_stored


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
    value_kind: ValueKind
    maxlength: int | None = None
    choices: tuple[str, ...] = ()
    null_choice: str = ""  # what a select's NULL (or none chosen) option sends
    hint: str = ""

    @property
    def null_name(self) -> str:
        return self.name + ":null"

    @property
    def default_name(self) -> str:
        return self.name + ":default"


def input_spec(column: Column, position: int, dialect: Dialect) -> InputSpec:
    """The input for `column` of a reflected table on `dialect`, as its value kind says."""
    kind = kind_for(column, dialect)
    widget = kind.widget
    if column.computed is not None:
        widget = "readonly"
    return InputSpec(
        column=column,
        name=f"c{position}",
        kind=widget,
        parse_as=kind.parse_as,
        nullable=bool(column.nullable) and not column.primary_key,
        database_fills=database_fills(column, dialect),
        has_default=column.server_default is not None,
        value_kind=kind,
        maxlength=getattr(kind, "maxlength", None),
        choices=getattr(kind, "choices", ()),
        null_choice=getattr(kind, "null_choice", ""),
        hint=kind.hint,
    )


def input_text(value: Any) -> str:
    """The exact text of a value inside an input: parsing it gives the value back."""
    return "" if value is None else value_type(value).input_text(value)


def needs_textarea(spec: InputSpec, text: str) -> bool:
    """A one-line input would lose line breaks (browsers strip them), so any value holding
    one is edited in a textarea."""
    return spec.kind == "textarea" or (spec.kind == "text" and ("\n" in text or "\r" in text))


# --- form text -> value ---------------------------------------------------------------------


def parse_input(spec: InputSpec, raw: Any, dialect: Dialect) -> Any:
    """The value for `spec`'s column from what the browser sent (text, or an Upload for a
    file field); raises FieldError saying what is wrong."""
    if spec.parse_as == "binary":
        if isinstance(raw, Upload):
            return raw.data
        return UNCHANGED
    text = raw if isinstance(raw, str) else ""
    return kind_for(spec.column, dialect).parse_input(text)


# --- comparing with what is stored ----------------------------------------------------------


def resolve(current: Any, new: Any, kind: ValueKind | None = None) -> Any:
    """What to write over `current` given the parsed input `new`: UNCHANGED when they are the
    same value, so an unchanged form writes nothing. Browsers send a textarea's line breaks
    as CRLF, so text differing only in those is the same, and changed text keeps the line
    breaks the stored value used. `kind` (the column's) says when two values are the same."""
    if new is UNCHANGED:
        return UNCHANGED
    if isinstance(current, memoryview | bytearray):
        current = bytes(current)
    if isinstance(current, str) and isinstance(new, str):
        if _lf(current) == _lf(new):
            return UNCHANGED
        return new if "\r" in current else _lf(new)
    if current is None or new is None:
        return UNCHANGED if current is new else new
    same = kind.same if kind is not None else same_stored
    return UNCHANGED if same(current, new) else new


def new_text(value: Any) -> Any:
    """A value for a new row: line breaks as LF (the browser sent CRLF)."""
    return _lf(value) if isinstance(value, str) else value


def _lf(text: str) -> str:
    return _LINE_BREAK.sub("\n", text)


_LINE_BREAK = re.compile(r"\r\n?")


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
