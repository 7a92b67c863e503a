"""Undoing one audited change: an update gets the old values of its columns back, a delete is
re-created, a create is deleted. Each refuses (RevertConflict) when the row is no longer as
the change left it, and goes through webapp.changes.writes, so it is locked, checked and audited
like any edit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.changes.audit_values import Unrestorable, load_key, load_row, same_value
from webapp.changes.writes import (
    WriteResult,
    delete_row,
    insert_row,
    read_row,
    row_version,
    update_row,
    values_condition,
)
from webapp.schema.catalog import TableInfo


@dataclass(frozen=True)
class Difference:
    """One column whose current value is not the one the change left."""

    column: str
    expected: Any
    current: Any


class RevertConflict(Exception):
    """The row changed since the entry; nothing was written."""

    def __init__(self, reason: str, differences: list[Difference]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.differences = differences


class RevertRefused(Exception):
    """The entry cannot be reverted at all (the message says why)."""


async def revert_change(conn: AsyncConnection, info: TableInfo, entry: Any) -> WriteResult:
    """Undo `entry` (an audit_log row) on `info` inside the caller's write transaction."""
    before = load_row(entry.old_values)
    after = load_row(entry.new_values)
    key = load_key(entry.row_key)
    condition = values_condition(info, key)
    if condition is None:
        raise RevertRefused("This change has no primary key to find its row by.")
    restore = before if entry.action != "create" else None
    if restore is not None and any(isinstance(v, Unrestorable) for v in restore.values()):
        raise RevertRefused(
            "This change holds a value that could not be read, so it cannot be restored."
        )
    current = await read_row(conn, info, condition, lock=True)
    if entry.action == "update":
        assert before is not None and after is not None
        if current is None:
            raise RevertConflict("The record was deleted since this change.", [])
        _require_same(current, after, "The record was changed again since this change.")
        values = _writable(info, before)
        return await update_row(
            conn, info, condition, row_version(info, current), values, exact=True
        )
    if entry.action == "delete":
        assert before is not None
        if current is not None:
            differences = [
                Difference(name, None, current[name]) for name in before if name in current
            ]
            raise RevertConflict("A record with this key exists again.", differences)
        return await insert_row(conn, info, _writable(info, before))
    if entry.action == "create":
        assert after is not None
        if current is None:
            raise RevertConflict("The record was deleted since it was created.", [])
        _require_same(current, after, "The record was changed since it was created.")
        return await delete_row(conn, info, condition, row_version(info, current))
    raise RevertRefused(f"Unknown action {entry.action!r}.")


def _writable(info: TableInfo, values: dict[str, Any]) -> dict[str, Any]:
    """The values of columns that still exist and that the database does not compute."""
    return {
        name: value
        for name, value in values.items()
        if (column := info.column(name)) is not None and column.computed is None
    }


def _require_same(current: dict[str, Any], expected: dict[str, Any], reason: str) -> None:
    missing = [name for name in expected if name not in current]
    if missing:
        raise RevertRefused(f"The table no longer has the column {missing[0]!r}.")
    differences = [
        Difference(name, value, current[name])
        for name, value in expected.items()
        if not same_value(current[name], value)
    ]
    if differences:
        raise RevertConflict(reason, differences)
