"""A write the database refused, in words: its error (a unique key, a foreign key, NOT NULL,
a value too long or out of range, a check) as a sentence, on the form field it names when
it names one; and, for a delete, which tables still hold rows pointing at the record."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.changes.forms import FormField
from webapp.database.dialects import is_schema_mismatch
from webapp.database.failures import is_unavailable
from webapp.schema.catalog import Catalog, TableInfo

REFUSALS = (
    (("unique", "duplicate"), "Another row already has this value."),
    (("foreign key",), "No row of the referenced table has this key."),
    (("not null", "cannot be null", "doesn't have a default"), "A value is required."),
    (("too long", "right truncation", "data too long"), "The value is too long."),
    (("out of range", "out of int", "overflow"), "The value is out of range."),
    (("check", "constraint"), "The database refused it."),
)
MESSAGE_CHARS = 300


def is_refusal(exc: StatementError) -> bool:
    """Whether the database refused this statement, as opposed to being unreachable (a 503)
    or no longer having the table or a column (schema.watch's to explain)."""
    return not (is_unavailable(exc) or is_schema_mismatch(exc))


def explain_on_form(
    exc: StatementError, info: TableInfo, fields: Sequence[FormField], hidden: frozenset[str]
) -> str | None:
    """Put a database refusal on the field it names and return None, or return it for above
    the form when it names no field the user can change. Anything but a refusal is raised
    again (see `is_refusal`)."""
    if not is_refusal(exc):
        raise exc
    message = refusal_message(exc, hidden)
    named = [field for field in fields if names_column(message, info.name, field.name)]
    if named and named[0].editable:
        named[0].error = message
        return None
    return message


def refusal_message(exc: StatementError, hidden: frozenset[str]) -> str:
    """The refusal in words, with the database's own text unless that text names a table or
    column hidden from the user (`hidden`), which no message may show."""
    detail = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    text = detail[0] if detail else type(exc).__name__
    if len(text) > MESSAGE_CHARS:
        text = text[:MESSAGE_CHARS] + "…"
    lowered = text.lower()
    said = f" The database said: {text}"
    if any(name.lower() in lowered for name in hidden):
        said = ""
    for markers, sentence in REFUSALS:
        if any(marker in lowered for marker in markers):
            return sentence + said
    return "The database refused the change." + said


def names_column(message: str, table: str, column: str) -> bool:
    """Whether a database message names `column` (quoted, or as table.column)."""
    name = re.escape(column)
    pattern = rf"(?:[`'\"(]{name}[`'\")]|{re.escape(table)}\.{name}(?!\w))"
    return re.search(pattern, message, re.IGNORECASE) is not None


async def referenced_message(
    conn: AsyncConnection, catalog: Catalog, info: TableInfo, row: Mapping[str, Any]
) -> str | None:
    """Which tables still hold rows pointing at `row`, as a sentence for the delete page;
    None when none do (the refusal was something else)."""
    holders = []
    for relation in info.incoming:
        child = catalog.tables[relation.table].table
        condition = and_(
            *(
                child.c[column] == row[target]
                for column, target in zip(relation.columns, relation.target_columns, strict=True)
            )
        )
        if await conn.scalar(select(exists().where(condition))):
            holders.append(f"{relation.table} (via {', '.join(relation.columns)})")
    if not holders:
        return None
    return (
        "This record is still referenced by rows of "
        + "; ".join(holders)
        + ", so it was not deleted. Change or delete those rows first."
    )
