"""The one registry of value kinds: per dialect and column type, how a column's values are
fetched, shown, written into URLs, parsed from filters and forms, written to CSV and JSON,
kept in the audit log and compared for lost updates. `kind_for(column, dialect)` answers
for a column; `value_type(value)` for a value met without its column."""

from __future__ import annotations

from webapp.values import dialect_kinds as _dialect_kinds  # noqa: F401  (registers backends' own kinds)
from webapp.values.cells import (
    BINARY_PREVIEW_BYTES,
    NULL_CELL,
    PREVIEW_CHARS,
    Cell,
    show_binary,
    text_cell,
)
from webapp.values.kinds import BadKey, BadValue, FieldError, ListColumn, ValueKind, python_type_of
from webapp.values.pytypes import (
    Unrestorable,
    ValueType,
    audit_decode,
    restorable,
    show_value,
    stored_bind,
    stored_text,
    value_type,
)
from webapp.values.registry import column_family, converts, kind_for

__all__ = [
    "BINARY_PREVIEW_BYTES",
    "NULL_CELL",
    "PREVIEW_CHARS",
    "BadKey",
    "BadValue",
    "Cell",
    "FieldError",
    "ListColumn",
    "Unrestorable",
    "ValueKind",
    "ValueType",
    "audit_decode",
    "audit_encode",
    "canonical",
    "column_family",
    "converts",
    "key_text",
    "kind_for",
    "python_type_of",
    "restorable",
    "show_binary",
    "show_value",
    "stored_bind",
    "stored_text",
    "text_cell",
    "value_type",
]


def audit_encode(value: object) -> object:
    """A JSON-ready form of `value` for the audit log: None for SQL NULL, else
    {"t": type, "v": text}."""
    return None if value is None else value_type(value).audit_encode(value)


def canonical(value: object) -> bytes:
    """Bytes that differ exactly when two stored values differ (the lost-update digest)."""
    return value_type(value).canonical(value)


def key_text(value: object) -> str:
    """A key value as the text that goes into a URL (and back through ValueKind.parse_key)."""
    return value_type(value).key_text(value)
