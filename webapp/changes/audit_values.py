"""A typed JSON encoding for the values an audit entry keeps, so that a value read back is
the very value that was stored: Decimal stays Decimal with its digits, datetimes keep their
microseconds and offset, bytes stay bytes, SQL NULL (JSON `null`) differs from the empty
string and from a JSON column holding `null`. A revert writes these values back, so anything
that cannot be restored exactly decodes to `Unrestorable` and the revert refuses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, overload

from webapp.values import Unrestorable, audit_decode, audit_encode

__all__ = [
    "Unrestorable",
    "dump_key",
    "dump_row",
    "load_key",
    "load_row",
    "same_value",
]


@overload
def dump_row(row: Mapping[str, Any]) -> str: ...
@overload
def dump_row(row: None) -> None: ...
@overload
def dump_row(row: Mapping[str, Any] | None) -> str | None: ...
def dump_row(row: Mapping[str, Any] | None) -> str | None:
    """Column values as JSON text, in column order (ASCII, so any database stores it)."""
    if row is None:
        return None
    return json.dumps({name: audit_encode(value) for name, value in row.items()})


def load_row(text: str | None) -> dict[str, Any] | None:
    """The values `dump_row` wrote."""
    if text is None:
        return None
    return {name: audit_decode(data) for name, data in json.loads(text).items()}


def dump_key(key: tuple[Any, ...]) -> str:
    """A primary key's values as JSON text (what the log keeps; the URL form is
    webapp.web.urls.key_segment)."""
    return json.dumps([audit_encode(value) for value in key])


def load_key(text: str) -> tuple[Any, ...]:
    return tuple(audit_decode(data) for data in json.loads(text))


def same_value(a: Any, b: Any) -> bool:
    """Whether two values are the same as the log would record them (so 1 and True, or
    Decimal('1.0') and Decimal('1.00'), differ; JSON objects compare by content)."""
    return audit_encode(a) == audit_encode(b)
