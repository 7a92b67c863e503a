"""Undoing a whole change set in one transaction, itself a change set: each entry is undone
as webapp.changes.revert undoes one (an update gets its old values back, a delete is
re-created, a create deleted), but a batch at a time, with the rows locked in primary-key
order. A row that changed since the change set (or whose revert the user may not make) is a
conflict: the revert is refused whole, unless the user chose to revert only the rows that
did not change, which then skips them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ClauseElement

from webapp.changes.audit import COMMITTED, RowChange
from webapp.changes.audit_values import (
    Unrestorable,
    decode_key,
    decode_row,
    encode_key,
    encode_row,
    same_value,
)
from webapp.changes.bulk_writes import BATCH_ROWS, keys_condition, read_rows
from webapp.changes.revert import RevertRefused
from webapp.changes.writes import bind_values, require_changeable_columns, transaction_trail
from webapp.schema.catalog import TableInfo

SHOWN_CONFLICTS = 100

# The entries of a change set after an entry id (None: from the first), at most `limit`.
EntryReader = Callable[[int | None, int], Awaitable[Sequence[Any]]]


@dataclass(frozen=True)
class ConflictRow:
    """A row whose state is no longer what the change set left."""

    entry: Any
    key: tuple[Any, ...]
    reason: str


@dataclass
class SetRevertOutcome:
    reverted: int = 0  # rows written back
    unchanged: int = 0  # rows found as the change set left them (revertible)
    skipped: int = 0  # rows changed since
    conflicts: list[ConflictRow] = field(default_factory=list)  # the first SHOWN_CONFLICTS


class ChangeSetConflict(Exception):
    """Rows changed since the change set; nothing was written."""

    def __init__(self, outcome: SetRevertOutcome) -> None:
        super().__init__(f"{outcome.skipped} rows changed since the change set")
        self.outcome = outcome


async def revert_change_set(
    conn: AsyncConnection, info: TableInfo, read_entries: EntryReader, *, only_unchanged: bool
) -> SetRevertOutcome:
    """Undo every entry `read_entries` gives, inside the caller's write transaction (whose
    trail holds the new change set). Raises ChangeSetConflict when rows changed since and
    `only_unchanged` is false; RevertRefused when an entry cannot be undone at all."""
    transaction_trail(conn)
    outcome = SetRevertOutcome()
    after_id: int | None = None
    while True:
        entries = list(await read_entries(after_id, BATCH_ROWS))
        if not entries:
            break
        after_id = entries[-1].id
        write = only_unchanged or not outcome.skipped  # a refused revert writes no more
        await _revert_batch(conn, info, entries, outcome, write=write)
        if len(entries) < BATCH_ROWS:
            break
    if outcome.skipped and not only_unchanged:
        raise ChangeSetConflict(outcome)
    return outcome


@dataclass(frozen=True)
class _Undo:
    entry: Any
    key: tuple[Any, ...]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


async def _revert_batch(
    conn: AsyncConnection,
    info: TableInfo,
    entries: Sequence[Any],
    outcome: SetRevertOutcome,
    *,
    write: bool,
) -> None:
    undos = [_undo(info, entry) for entry in entries]
    keys = [undo.key for undo in undos]
    current = {
        encode_key(tuple(row[c.name] for c in info.primary_key)): row
        for row in await read_rows(conn, info, keys_condition(info, keys), lock=True)
    }
    clean: list[tuple[_Undo, dict[str, Any] | None]] = []
    for undo in undos:
        row = current.get(encode_key(undo.key))
        reason = _conflict(undo, row)
        if reason is None:
            clean.append((undo, row))
            continue
        outcome.skipped += 1
        if len(outcome.conflicts) < SHOWN_CONFLICTS:
            outcome.conflicts.append(ConflictRow(undo.entry, undo.key, reason))
    outcome.unchanged += len(clean)
    if not write or not clean:
        return
    trail = transaction_trail(conn)
    by_action: dict[str, list[tuple[_Undo, dict[str, Any] | None]]] = {}
    for undo, row in clean:
        by_action.setdefault(undo.entry.action, []).append((undo, row))
    for action, items in by_action.items():
        if action == "update":
            await _restore_values(conn, info, items)
        elif action == "delete":
            await _recreate(conn, info, items)
        else:
            await conn.execute(
                delete(info.table).where(keys_condition(info, [u.key for u, _ in items]))
            )
            changes = [RowChange(u.key, row, None, u.entry.id) for u, row in items]
            await trail.record_many(conn, "delete", info, changes)
        outcome.reverted += len(items)


def _undo(info: TableInfo, entry: Any) -> _Undo:
    """An entry ready to undo; RevertRefused when it cannot be undone at all."""
    if entry.state != COMMITTED:
        raise RevertRefused(
            f"Change {entry.id} of this set is not known to have been committed, so the set "
            "cannot be reverted."
        )
    if entry.table_name != info.name:
        raise RevertRefused(f"Change {entry.id} of this set belongs to another table.")
    before = decode_row(entry.old_values)
    after = decode_row(entry.new_values)
    key = decode_key(entry.row_key)
    if len(key) != len(info.primary_key) or any(value is None for value in key):
        raise RevertRefused("This change set has rows without a primary key to find them by.")
    restore = before if entry.action != "create" else None
    if restore is not None:
        if any(isinstance(value, Unrestorable) for value in restore.values()):
            raise RevertRefused(
                f"Change {entry.id} of this set holds a value that could not be read, so it "
                "cannot be restored."
            )
        missing = [name for name in restore if info.table.c.get(name) is None]
        if missing:
            raise RevertRefused(f"The table no longer has the column {missing[0]!r}.")
        require_changeable_columns(info, _writable(info, restore))
    return _Undo(entry, key, before, after)


def _conflict(undo: _Undo, row: dict[str, Any] | None) -> str | None:
    """Why the row is not as the entry left it, or None when it is."""
    action = undo.entry.action
    if action == "delete":
        return "a record with this key exists again" if row is not None else None
    if row is None:
        return "the record was deleted since"
    after = undo.after or {}
    differing = [name for name, value in after.items() if not same_value(row.get(name), value)]
    if differing:
        return "changed since: " + ", ".join(differing)
    return None


async def _restore_values(
    conn: AsyncConnection, info: TableInfo, items: list[tuple[_Undo, dict[str, Any] | None]]
) -> None:
    """Give updated rows their old values back: one UPDATE per distinct set of old values
    (a bulk "set" usually had few), then the rows as they are now for the log."""
    groups: dict[str, list[_Undo]] = {}
    for undo, _ in items:
        groups.setdefault(encode_row(_writable(info, undo.before or {})), []).append(undo)
    for group in groups.values():
        values = bind_values(info, _writable(info, group[0].before or {}))
        condition = keys_condition(info, [undo.key for undo in group])
        await conn.execute(update(info.table).where(condition).values(values))
    keys = [undo.key for undo, _ in items]
    after = {
        encode_key(tuple(row[c.name] for c in info.primary_key)): row
        for row in await read_rows(conn, info, keys_condition(info, keys), lock=False)
    }
    changes = [
        RowChange(undo.key, row, after.get(encode_key(undo.key)), undo.entry.id)
        for undo, row in items
    ]
    await transaction_trail(conn).record_many(conn, "update", info, changes)


async def _recreate(
    conn: AsyncConnection, info: TableInfo, items: list[tuple[_Undo, dict[str, Any] | None]]
) -> None:
    """Create deleted rows again with the values they had: one statement for the batch
    unless a value must be spelled as SQL (a JSON column's NULL), then one per row."""
    rows = [bind_values(info, _writable(info, undo.before or {})) for undo, _ in items]
    if any(isinstance(value, ClauseElement) for row in rows for value in row.values()):
        for row in rows:
            await conn.execute(insert(info.table).values(row))
    else:
        await conn.execute(insert(info.table), rows)
    keys = [undo.key for undo, _ in items]
    after = {
        encode_key(tuple(row[c.name] for c in info.primary_key)): row
        for row in await read_rows(conn, info, keys_condition(info, keys), lock=False)
    }
    changes = [
        RowChange(undo.key, None, after.get(encode_key(undo.key)), undo.entry.id)
        for undo, _ in items
    ]
    await transaction_trail(conn).record_many(conn, "create", info, changes)


def _writable(info: TableInfo, values: dict[str, Any]) -> dict[str, Any]:
    """The values of columns that still exist and that the database does not compute."""
    return {
        name: value
        for name, value in values.items()
        if (column := info.table.c.get(name)) is not None and column.computed is None
    }
