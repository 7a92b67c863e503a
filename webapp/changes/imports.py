"""Importing a file's rows into a table: each cell parsed by the record form's own field for
its column (webapp.changes.forms), so a file can hold exactly what the edit form accepts; a
dry run that checks every row and counts what would be inserted or updated; and the real
import, a batch at a time with executemany, inside the caller's write transaction and change
set, every row audited. Any bad row or refusal raises, and the transaction rolls back: an
import happens whole or not at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import JSON, and_, bindparam, insert, null, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ClauseElement

from webapp.changes.audit import RowChange
from webapp.changes.audit_values import dump_key
from webapp.changes.bulk_writes import keys_condition, read_rows, row_key
from webapp.changes.forms import parse_field_text
from webapp.changes.import_files import Record
from webapp.changes.inputs import FieldError, InputSpec, input_spec
from webapp.changes.writes import require_changeable_columns, transaction_trail
from webapp.schema.catalog import TableInfo
from webapp.values import ValueKind, kind_for

MODES = ("insert", "upsert")
BATCH_ROWS = 1000
SHOWN_ERRORS = 100


class MappingRefused(Exception):
    """The chosen mapping cannot work (a column the user may not set, a key missing for an
    upsert, ...): nothing was read or written."""


class ImportCancelled(Exception):
    """The user cancelled the import; the transaction rolls back."""


class ImportInvalid(Exception):
    """Rows of the file cannot be parsed; nothing was written."""

    def __init__(self, errors: Sequence[RowError], count: int) -> None:
        super().__init__(f"{count:,} rows cannot be imported")
        self.errors = list(errors)
        self.count = count


class RowsRefused(Exception):
    """The database refused a batch of rows (lines `first`..`last`); nothing was written."""

    def __init__(self, first: int, last: int, cause: StatementError) -> None:
        super().__init__(f"lines {first}-{last}")
        self.first, self.last, self.cause = first, last, cause


@dataclass(frozen=True)
class RowError:
    """Why the row starting on `line` cannot be imported (`column`: the table column)."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ImportPlan:
    """What to import: which table column each file column goes to (file columns left out
    are skipped), insert or upsert by primary key, and whether an empty cell is NULL (where
    the column allows it) or empty text."""

    info: TableInfo
    columns: Mapping[str, str]  # file column -> table column
    mode: str = "insert"
    empty_is_null: bool = True


@dataclass
class ImportProgress:
    """How far a dry run or an import has come, read by the progress page while it runs;
    `cancel` asks it to stop at the next batch (the transaction then rolls back)."""

    total: int = 0
    done: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    cancel: bool = False

    def rate(self) -> float:
        """Rows per second so far."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def seconds_left(self) -> float | None:
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 and self.total else None

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < SHOWN_ERRORS:
            self.errors.append(error)


def default_mapping(
    info: TableInfo, file_columns: Iterable[str], dialect: Dialect
) -> dict[str, str]:
    """File columns matched to the table's columns by name (exactly, else ignoring case),
    leaving out those the import cannot set."""
    settable = {column.name for column in importable_columns(info, dialect)}
    folded = {name.casefold(): name for name in settable}
    mapping: dict[str, str] = {}
    for name in file_columns:
        target = name if name in settable else folded.get(name.casefold())
        if target is not None and target not in mapping.values():
            mapping[name] = target
    return mapping


def importable_columns(info: TableInfo, dialect: Dialect) -> list[Any]:
    """The columns an import may set: visible, not read-only, not computed, not binary
    (a file holds text)."""
    return [
        column
        for column in info.columns
        if column.name not in info.read_only_columns
        and input_spec(column, 0, dialect).kind not in ("readonly", "file")
    ]


def check_plan(plan: ImportPlan, dialect: Dialect) -> None:
    """Refuse (MappingRefused) a mapping the import cannot carry out, saying why."""
    info = plan.info
    if plan.mode not in MODES:
        raise MappingRefused(f"The mode must be one of {', '.join(MODES)}.")
    if not plan.columns:
        raise MappingRefused("Map at least one file column to a column of the table.")
    targets = list(plan.columns.values())
    require_changeable_columns(info, targets)
    settable = {column.name for column in importable_columns(info, dialect)}
    for target in targets:
        if targets.count(target) > 1:
            raise MappingRefused(f"Two file columns are mapped to {target!r}.")
        if target not in settable:
            raise MappingRefused(f"The column {target!r} cannot be set by an import.")
    if plan.mode == "upsert":
        missing = [c.name for c in info.primary_key if c.name not in targets]
        if missing:
            raise MappingRefused(
                f"An upsert finds rows by their primary key: map a file column to {missing[0]!r}."
            )


@dataclass(frozen=True)
class _Cell:
    """How one mapped file column is parsed: the table column's form input, and how its
    values are bound (a JSON column's NULL spelled as SQL)."""

    file_column: str
    name: str
    key: str
    spec: InputSpec
    widget: str
    kind: ValueKind
    json_null: bool


class RowParser:
    """Parses a file's records into the values to write, cell by cell as the record form
    parses its fields (forms.parse_field_text), and binds them as the write path does."""

    def __init__(self, plan: ImportPlan, dialect: Dialect) -> None:
        check_plan(plan, dialect)
        self.plan = plan
        self.dialect = dialect
        positions = {column.name: i for i, column in enumerate(plan.info.columns)}
        self.cells: list[_Cell] = []
        for file_column, target in plan.columns.items():
            column = plan.info.table.c[target]
            spec = input_spec(column, positions[target], dialect)
            self.cells.append(
                _Cell(
                    file_column,
                    target,
                    column.key,
                    spec,
                    spec.kind,
                    kind_for(column, dialect),
                    isinstance(column.type, JSON),
                )
            )
        self.key_names = [column.name for column in plan.info.primary_key]
        self.seen_keys: set[Any] = set()

    def parse(self, record: Record) -> tuple[ParsedRow | None, list[RowError]]:
        """The row's values (by column name, and bound by column key), or None and what is
        wrong with it."""
        values: dict[str, Any] = {}
        bound: dict[str, Any] = {}
        errors = []
        empty_is_null = self.plan.empty_is_null
        for cell in self.cells:
            text = record.cells.get(cell.file_column)
            spec = cell.spec
            try:
                if text is None or (text == "" and empty_is_null and spec.nullable):
                    if not spec.nullable:
                        raise FieldError("This column cannot be NULL.")
                    value = None
                else:
                    value = parse_field_text(spec, cell.widget, text, self.dialect)
            except FieldError as exc:
                errors.append(RowError(record.line, cell.name, str(exc)))
                continue
            values[cell.name] = value
            bound[cell.key] = (
                null() if value is None and cell.json_null else cell.kind.bind_value(value)
            )
        if not errors and self.key_names and all(n in values for n in self.key_names):
            key: Any = tuple(values[name] for name in self.key_names)
            try:
                hash(key)
            except TypeError:
                key = dump_key(key)
            if key in self.seen_keys:
                errors.append(RowError(record.line, None, "This key appears earlier in the file."))
            self.seen_keys.add(key)
        return (None, errors) if errors else (ParsedRow(record.line, values, bound), [])


@dataclass(frozen=True)
class ParsedRow:
    """A row ready to write: its line, its values by column name and bound by column key."""

    line: int
    values: dict[str, Any]
    bound: dict[str, Any]


def parse_batch(
    parser: RowParser, batch: Sequence[Record], progress: ImportProgress
) -> list[ParsedRow]:
    """The batch's rows parsed; their errors go to `progress`."""
    rows = []
    for record in batch:
        row, errors = parser.parse(record)
        for error in errors:
            progress.add_error(error)
        if row is not None:
            rows.append(row)
    return rows


async def count_existing(conn: AsyncConnection, info: TableInfo, rows: Sequence[ParsedRow]) -> int:
    """How many of the rows' keys the table already holds (a dry run's upsert counts)."""
    keys = [tuple(row.values[c.name] for c in info.primary_key) for row in rows]
    if not keys:
        return 0
    column = info.primary_key[0]
    statement = select(column).where(keys_condition(info, keys))
    return len((await conn.execute(statement)).all())


async def write_batch(
    conn: AsyncConnection, plan: ImportPlan, rows: Sequence[ParsedRow], progress: ImportProgress
) -> None:
    """Write one batch inside the caller's write transaction and change set: in an upsert
    the rows whose key exists are updated (locked first, in key order), the others
    inserted; every row audited. RowsRefused when the database refuses the batch."""
    if not rows:
        return
    info = plan.info
    try:
        if plan.mode == "upsert":
            keys = [tuple(row.values[c.name] for c in info.primary_key) for row in rows]
            existing = {
                dump_key(row_key(info, row)): row
                for row in await read_rows(conn, info, keys_condition(info, keys), lock=True)
            }
            updates, inserts = [], []
            for row, key in zip(rows, keys, strict=True):
                found = existing.get(dump_key(key))
                if found is None:
                    inserts.append(row)
                else:
                    updates.append((row, found))
            await _update_rows(conn, info, updates, progress)
        else:
            inserts = list(rows)
        await _insert_rows(conn, info, inserts, progress)
    except StatementError as exc:
        raise RowsRefused(rows[0].line, rows[-1].line, exc) from exc


async def _insert_rows(
    conn: AsyncConnection, info: TableInfo, rows: Sequence[ParsedRow], progress: ImportProgress
) -> None:
    if not rows:
        return
    bound = [row.bound for row in rows]
    key_names = [column.name for column in info.primary_key]
    dialect = conn.dialect
    keys: list[tuple[Any, ...]]
    spelled = any(isinstance(value, ClauseElement) for row in bound for value in row.values())
    if not spelled and all(name in rows[0].values for name in key_names):
        await conn.execute(insert(info.table), bound)
        keys = [tuple(row.values[name] for name in key_names) for row in rows]
    elif not spelled and dialect.insert_executemany_returning_sort_by_parameter_order:
        statement = insert(info.table).returning(*info.primary_key, sort_by_parameter_order=True)
        keys = [tuple(key) for key in (await conn.execute(statement, bound)).all()]
    else:  # a value spelled as SQL, or a driver that returns no keys from an executemany
        keys = []
        for values in bound:
            result = await conn.execute(insert(info.table).values(values))
            keys.append(tuple(result.inserted_primary_key or ()))
    after = await read_rows(conn, info, keys_condition(info, keys), lock=False)
    changes = [RowChange(row_key(info, row), None, row) for row in after]
    await transaction_trail(conn).record_many(conn, "create", info, changes)
    progress.inserted += len(rows)


async def _update_rows(
    conn: AsyncConnection,
    info: TableInfo,
    items: Sequence[tuple[ParsedRow, dict[str, Any]]],
    progress: ImportProgress,
) -> None:
    """Update existing rows to the file's values: one executemany UPDATE by key, then the
    rows read back for the log (a row the file left as it was gets no entry)."""
    if not items:
        return
    key_columns = info.primary_key
    names = [name for name in items[0][0].values if name not in {c.name for c in key_columns}]
    keys = [row_key(info, before) for _, before in items]
    if names:
        keys_of = {info.table.c[n].key for n in names}
        bound = [{k: v for k, v in row.bound.items() if k in keys_of} for row, _ in items]
        spelled = any(isinstance(v, ClauseElement) for row in bound for v in row.values())
        if spelled:
            for values, (_, before) in zip(bound, items, strict=True):
                condition = keys_condition(info, [row_key(info, before)])
                await conn.execute(update(info.table).where(condition).values(values))
        else:
            statement = (
                update(info.table)
                .where(and_(*(c == bindparam(f"k{i}") for i, c in enumerate(key_columns))))
                .values({info.table.c[n].key: bindparam(f"v{i}") for i, n in enumerate(names)})
            )
            parameters = []
            for values, (_, before) in zip(bound, items, strict=True):
                parameter = {f"v{i}": values[info.table.c[n].key] for i, n in enumerate(names)}
                for i, column in enumerate(key_columns):
                    parameter[f"k{i}"] = before[column.name]
                parameters.append(parameter)
            await conn.execute(statement, parameters)
    after = {
        dump_key(row_key(info, row)): row
        for row in await read_rows(conn, info, keys_condition(info, keys), lock=False)
    }
    changes = [
        RowChange(key, before, after.get(dump_key(key)))
        for key, (_, before) in zip(keys, items, strict=True)
    ]
    written = await transaction_trail(conn).record_many(conn, "update", info, changes)
    progress.updated += written
    progress.unchanged += len(items) - written


async def check_rows(
    conn: AsyncConnection, plan: ImportPlan, read: RecordSource, progress: ImportProgress
) -> None:
    """The dry run: parse every row (errors into `progress`), and count the rows that would
    be inserted and (an upsert's, by key) updated. Writes nothing."""
    parser = RowParser(plan, conn.dialect)
    async for batch, rows in _parsed_batches(read, parser, progress):
        if plan.mode == "upsert":
            existing = await count_existing(conn, plan.info, rows)
            progress.updated += existing
            progress.inserted += len(rows) - existing
        else:
            progress.inserted += len(rows)
        progress.done += len(batch)


async def import_rows(
    conn: AsyncConnection, plan: ImportPlan, read: RecordSource, progress: ImportProgress
) -> int:
    """The real import, inside the caller's write transaction and change set; returns how
    many rows it changed. Raises ImportInvalid at the first batch holding a bad row,
    RowsRefused when the database refuses one, ImportCancelled when asked to stop."""
    parser = RowParser(plan, conn.dialect)
    async for batch, rows in _parsed_batches(read, parser, progress):
        if progress.error_count:
            raise ImportInvalid(progress.errors, progress.error_count)
        await write_batch(conn, plan, rows, progress)
        progress.done += len(batch)
    return progress.inserted + progress.updated


# The file's records, read from its start each time it is called.
RecordSource = Callable[[], Iterator[Record]]


async def _parsed_batches(
    read: RecordSource, parser: RowParser, progress: ImportProgress
) -> AsyncIterator[tuple[list[Record], list[ParsedRow]]]:
    """Batches of the file's records with their parsed rows; the reading and parsing run in
    a worker thread, so a big file never holds up the server's other requests."""
    records = read()
    while True:
        if progress.cancel:
            raise ImportCancelled()
        batch, rows = await asyncio.to_thread(_next_batch, records, parser, progress)
        if not batch:
            return
        yield batch, rows


def _next_batch(
    records: Iterator[Record], parser: RowParser, progress: ImportProgress
) -> tuple[list[Record], list[ParsedRow]]:
    batch = list(islice(records, BATCH_ROWS))
    return batch, parse_batch(parser, batch, progress)
