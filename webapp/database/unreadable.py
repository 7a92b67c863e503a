"""A value the app could not turn into a Python object of its column's type, and why: it is
shown as stored (marked) and kept as it is, never written back in another form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOT_UTF8 = "not UTF-8"  # a text value (SQLite's, which may hold any bytes) that is not UTF-8
OUT_OF_RANGE = "outside Python's range"  # a PostgreSQL date before year 1 or after 9999
AS_TEXT = "read as the database's text"  # a value the driver itself could not decode
# Reasons of values that read fine as the database's own text: shown as stored, not as errors.
STORED_REASONS = (NOT_UTF8, OUT_OF_RANGE, AS_TEXT)


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a value that could not be turned into a Python object."""

    raw: Any
    reason: str

    def __str__(self) -> str:
        return f"cannot read this value ({self.reason}): {self.raw!r}"[:300]
