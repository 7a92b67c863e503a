"""Filter text helpers that are about the text itself, not a column's type. Everything about
values of a type lives in the value-kind registry (webapp/values)."""

from __future__ import annotations

import datetime as dt


def is_date_only(text: str) -> bool:
    """Whether filter text for a date-and-time column names a whole day (2024-01-31)."""
    try:
        dt.date.fromisoformat(text.strip())
    except ValueError:
        return False
    return len(text.strip()) == 10
