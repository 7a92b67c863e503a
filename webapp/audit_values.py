"""A typed JSON encoding for the values an audit entry keeps, so that a value read back is
the very value that was stored: Decimal stays Decimal with its digits, datetimes keep their
microseconds and offset, bytes stay bytes, SQL NULL (JSON `null`) differs from the empty
string and from a JSON column holding `null`. A revert writes these values back, so anything
that cannot be restored exactly decodes to `Unrestorable` and the revert refuses."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .decoding import Undecodable


@dataclass(frozen=True)
class Unrestorable:
    """A value the log could only describe (unreadable, or of a type it cannot encode)."""

    text: str

    def __str__(self) -> str:
        return self.text


def encode_value(value: Any) -> Any:
    """A JSON-ready form of `value`: None for SQL NULL, else {"t": type, "v": text}."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(value)}
    if isinstance(value, decimal.Decimal):
        return {"t": "decimal", "v": str(value)}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"t": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {"t": "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {"t": "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {"t": "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"t": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, uuid.UUID):
        return {"t": "uuid", "v": str(value)}
    if isinstance(value, dict | list):
        return {"t": "json", "v": value}
    if isinstance(value, Undecodable | Unrestorable):
        return {"t": "unrestorable", "v": str(value)}
    return {"t": "unrestorable", "v": f"{type(value).__name__}: {value}"}


def decode_value(data: Any) -> Any:
    """The value `encode_value` was given (Unrestorable for what it could only describe)."""
    if data is None:
        return None
    kind, text = data["t"], data["v"]
    if kind in ("bool", "str", "json"):
        return text
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "decimal":
        return decimal.Decimal(text)
    if kind == "bytes":
        return base64.b64decode(text)
    if kind == "datetime":
        return dt.datetime.fromisoformat(text)
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "time":
        return dt.time.fromisoformat(text)
    if kind == "timedelta":
        return dt.timedelta(days=text[0], seconds=text[1], microseconds=text[2])
    if kind == "uuid":
        return uuid.UUID(text)
    return Unrestorable(str(text))


def encode_row(row: Mapping[str, Any] | None) -> str | None:
    """Column values as JSON text, in column order (ASCII, so any database stores it)."""
    if row is None:
        return None
    return json.dumps({name: encode_value(value) for name, value in row.items()})


def decode_row(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    return {name: decode_value(data) for name, data in json.loads(text).items()}


def encode_key(key: tuple[Any, ...]) -> str:
    return json.dumps([encode_value(value) for value in key])


def decode_key(text: str) -> tuple[Any, ...]:
    return tuple(decode_value(data) for data in json.loads(text))


def same_value(a: Any, b: Any) -> bool:
    """Whether two values are the same as the log would record them (so 1 and True, or
    Decimal('1.0') and Decimal('1.00'), differ; JSON objects compare by content)."""
    return encode_value(a) == encode_value(b)
