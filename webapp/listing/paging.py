"""Slicing a table page: keyset (cursor) paging when the order is the primary key or an
indexed, non-null column with the key as tie-breaker, so that the 20,000th page costs what
the first does; OFFSET paging otherwise. Cursors are opaque and signed: a link cannot be
edited into a statement the app did not mean to run."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from webapp.database.driver_rows import fetch_rows_direct
from webapp.listing.fulltext import bounded_scan
from webapp.listing.queries import ListPlan, SortKey, order_by, page_statement, sortable
from webapp.schema.catalog import TableInfo
from webapp.secret_key import sign, verify
from webapp.values import BadKey, key_text, kind_for
from webapp.web.errors import BadRequest

CURSOR_PURPOSE = "cursor"
MAX_CURSOR_LENGTH = 4096


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or, going back, before) the row with these key values,
    in this sort order; `position` is how many rows precede that boundary, for display."""

    backwards: bool
    sort: str
    values: tuple[str, ...]
    position: int
    # A bounded search's way on (search_chunk): how many of the table's rows, in key order,
    # come up to and including the boundary, when known.
    searched: int | None = None


def encode_cursor(secret_key: bytes, cursor: Cursor) -> str:
    fields: list[Any] = [
        "p" if cursor.backwards else "n",
        cursor.sort,
        list(cursor.values),
        cursor.position,
    ]
    if cursor.searched is not None:
        fields.append(cursor.searched)
    payload = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
    return f"{body}.{sign(secret_key, CURSOR_PURPOSE, payload)}"


def decode_cursor(secret_key: bytes, text: str) -> Cursor:
    """The cursor a link carries; anything this server did not sign is a 400."""
    damaged = BadRequest(
        "This page link is damaged or was not made by this server; "
        "start again from the table's first page."
    )
    body, _, signature = text.partition(".")
    if len(text) > MAX_CURSOR_LENGTH or not body or not signature:
        raise damaged
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise damaged from None
    if not verify(secret_key, CURSOR_PURPOSE, payload, signature):
        raise damaged
    try:
        direction, sort, values, position, *rest = json.loads(payload)
        searched = int(rest[0]) if rest else None
        cursor = Cursor(
            direction == "p", str(sort), tuple(str(v) for v in values), int(position), searched
        )
    except (ValueError, TypeError, IndexError):
        raise damaged from None
    if len(rest) > 1 or cursor.position < 0 or (searched is not None and searched < 0):
        raise damaged
    return cursor


def keyset_columns(info: TableInfo, sort: SortKey | None) -> list[Column] | None:
    """The columns a keyset page is ordered and sliced by, or None where only OFFSET works:
    no primary key, or a sort column that is not indexed or may hold NULLs (whose place in
    the order differs between databases)."""
    key = list(info.primary_key)
    if not key or not all(sortable(column) for column in key):
        return None
    if sort is None or (len(key) == 1 and sort.column is key[0]):
        return key
    column = sort.column
    if column.nullable or column.name not in info.indexed_columns:
        return None
    return [column, *key]


def keyset_condition(
    columns: Sequence[Column], values: Sequence[Any], *, descending: bool, backwards: bool
) -> ColumnElement[bool]:
    """Rows strictly after (or before) `values` in the order of `columns`, written so that
    every engine can use the index: c1 >= v1 AND (c1 > v1 OR (c1 = v1 AND ...))."""
    ascending = descending == backwards

    def beyond(index: int) -> ColumnElement[bool]:
        column, value = columns[index], values[index]
        strict = column > value if ascending else column < value
        if index == len(columns) - 1:
            return strict
        return or_(strict, and_(column == value, beyond(index + 1)))

    if len(columns) == 1:
        return beyond(0)
    first = columns[0] >= values[0] if ascending else columns[0] <= values[0]
    return and_(first, beyond(0))


def cursor_values(columns: Sequence[Column], cursor: Cursor) -> list[Any]:
    """The typed key values a cursor carries; a mismatch with the order is a 400."""
    if len(cursor.values) != len(columns):
        raise BadRequest("This page link belongs to another sort order; start again.")
    try:
        return [
            kind_for(column).parse_key(text)
            for column, text in zip(columns, cursor.values, strict=True)
        ]
    except BadKey:
        raise BadRequest("This page link is damaged; start again.") from None


def cursor_from_row(values: Sequence[Any], *, backwards: bool, sort: str, position: int) -> Cursor:
    return Cursor(backwards, sort, tuple(key_text(value) for value in values), position)


@dataclass(frozen=True)
class Page:
    """One fetched page and the way to its neighbours."""

    rows: list[Sequence[Any]]
    position: int  # how many rows come before the first one shown
    next_cursor: str | None
    previous_cursor: str | None
    has_next: bool
    has_previous: bool
    keyset: bool
    scan: SearchScan | None = None  # a bounded search that stopped before the last row


@dataclass(frozen=True)
class SearchScan:
    """How far a bounded search read before it stopped, short of the table's last row:
    `read` rows by this request, rows 1 to `through` of the table in key order so far (None
    when the walk went on from a Next link, whose place in the table is not known), and
    the cursor that goes on after the last row read."""

    read: int
    through: int | None
    continue_cursor: str


async def fetch_page(
    conn: AsyncConnection,
    info: TableInfo,
    plan: ListPlan,
    expressions: list[ColumnElement[Any]],
    *,
    sort: SortKey | None,
    where: Sequence[ColumnElement[bool]],
    size: int,
    page_number: int,
    cursor_text: str | None,
    secret_key: bytes,
    scan_where: Sequence[ColumnElement[bool]] | None = None,
    chunk_rows: int | None = None,
    last_of: int | None = None,
) -> Page:
    """The rows of one page: after or before a cursor (keyset), else by page number (OFFSET,
    which also serves a keyset order's first pages and old `?page=` links). `scan_where`
    selects the same rows as `where` without needing an index: where an index keeps the
    page's order, a scan through it bounded in rows examined is tried first, and kept if it
    found a full page (then those are the first rows in order), else `where` answers.
    `chunk_rows` bounds a search that must read every row (see bounded_search_page) where
    the page is in primary-key order; pages before a cursor read as they always did.
    `last_of` asks for the last page of that many rows: the page that following Next from
    the first would end on (a keyset order read backwards from its end, else by number)."""
    columns = keyset_columns(info, sort)
    sort_param = sort.param if sort is not None else ""
    descending = sort.descending if sort is not None else False
    scan_index = None
    if scan_where is not None and columns is not None:
        scan_index = info.scan_orders.get(tuple(column.name for column in columns))

    async def run(
        extra: Sequence[ColumnElement[bool]] = (), *, offset: int = 0, reverse: bool = False
    ) -> list[Sequence[Any]]:
        def statement(conditions: Sequence[ColumnElement[bool]]) -> Select[Any]:
            def make() -> Select[Any]:
                return page_statement(
                    info,
                    expressions,
                    sort,
                    where=[*conditions, *extra],
                    offset=offset,
                    limit=size + 1,
                    reverse=reverse,
                )

            if conditions or extra or offset:
                return make()
            key = (sort_param, size + 1, reverse)
            fixed = plan.fixed_statements.get(key)
            if fixed is None:
                fixed = plan.fixed_statements[key] = make()
            return fixed

        if scan_index is not None and scan_where is not None:
            scan = bounded_scan(statement(scan_where), info.table, scan_index)
            rows = await fetch_rows_direct(conn, scan, expressions)
            if len(rows) > size:
                return rows
        return await fetch_rows_direct(conn, statement(where), expressions)

    cursor = decode_cursor(secret_key, cursor_text) if cursor_text else None
    if cursor is not None and columns is None:
        raise BadRequest("This page link belongs to another sort order; start again.")
    if cursor is not None and cursor.sort != sort_param:
        raise BadRequest("This page link belongs to another sort order; start again.")

    chunked = (
        chunk_rows is not None
        and last_of is None  # the last page is counted from the end, not walked to
        and columns is not None
        and page_number == 1
        and [column.name for column in columns] == [column.name for column in info.primary_key]
    )
    if chunk_rows is not None and chunked and (cursor is None or not cursor.backwards):
        return await bounded_search_page(
            conn,
            info,
            plan,
            expressions,
            sort=sort,
            where=where,
            size=size,
            cursor=cursor,
            secret_key=secret_key,
            chunk_rows=chunk_rows,
        )

    position = (page_number - 1) * size
    if last_of is not None:
        position = max(last_of - 1, 0) // size * size
        cursor = None
    if last_of is not None and columns is not None and position > 0:
        rows = await run(reverse=True)
        rows = list(reversed(rows[: last_of - position]))
        has_next, has_previous = False, True
    elif cursor is None or columns is None:
        rows = await run(offset=position)
        has_next, rows = len(rows) > size, rows[:size]
        has_previous = position > 0
    else:
        values = cursor_values(columns, cursor)
        boundary = keyset_condition(
            columns, values, descending=descending, backwards=cursor.backwards
        )
        if cursor.backwards:
            rows = await run([boundary], reverse=True)
            if len(rows) > size:
                rows = list(reversed(rows[:size]))
                position, has_previous, has_next = max(cursor.position - size, 0), True, True
            elif chunk_rows is not None and chunked:  # the first page, bounded again
                return await bounded_search_page(
                    conn,
                    info,
                    plan,
                    expressions,
                    sort=sort,
                    where=where,
                    size=size,
                    cursor=None,
                    secret_key=secret_key,
                    chunk_rows=chunk_rows,
                )
            else:  # fewer than a page before the cursor: show the (full) first page
                rows = await run()
                has_next, rows = len(rows) > size, rows[:size]
                position, has_previous = 0, False
        else:
            rows = await run([boundary])
            has_next, rows = len(rows) > size, rows[:size]
            position, has_previous = cursor.position, True

    if columns is None or not rows:
        return Page(rows, position, None, None, has_next, has_previous, keyset=False)
    names = [column.name for column in columns]

    def make(row: Sequence[Any], *, backwards: bool, at: int) -> str:
        values = [plan.value(row, name) for name in names]
        cursor = cursor_from_row(values, backwards=backwards, sort=sort_param, position=at)
        return encode_cursor(secret_key, cursor)

    return Page(
        rows,
        position,
        make(rows[-1], backwards=False, at=position + len(rows)) if has_next else None,
        make(rows[0], backwards=True, at=position) if has_previous else None,
        has_next,
        has_previous,
        keyset=True,
    )


async def bounded_search_page(
    conn: AsyncConnection,
    info: TableInfo,
    plan: ListPlan,
    expressions: list[ColumnElement[Any]],
    *,
    sort: SortKey | None,
    where: Sequence[ColumnElement[bool]],
    size: int,
    cursor: Cursor | None,
    secret_key: bytes,
    chunk_rows: int,
) -> Page:
    """A page of a search that no index answers, in primary-key order, reading at most
    `chunk_rows` of the table's rows after the cursor (a key range: the chunk's last key
    first, from the key's index alone, then the search within the range), so that a word
    found nowhere costs a chunk, not the whole table. A page filled within the chunk goes
    on by its Next cursor, as any page; one that is not carries the way on in `scan`,
    unless the chunk reached the table's last row."""
    key = list(info.primary_key)
    sort_param = sort.param if sort is not None else ""
    descending = sort.descending if sort is not None else False
    bounds: list[ColumnElement[bool]] = []
    position = 0
    through: int | None = 0
    if cursor is not None:
        values = cursor_values(key, cursor)
        bounds.append(keyset_condition(key, values, descending=descending, backwards=False))
        position, through = cursor.position, cursor.searched
    last_of_chunk = (
        select(*key)
        .select_from(info.table)
        .where(*bounds)
        .order_by(*order_by(info, sort))
        .offset(chunk_rows - 1)
        .limit(1)
    )
    ends = await fetch_rows_direct(conn, last_of_chunk, key)
    end = list(ends[0]) if ends else None
    if end is not None:
        bounds.append(up_to(key, end, descending=descending))
    statement = page_statement(info, expressions, sort, where=[*where, *bounds], limit=size + 1)
    rows = await fetch_rows_direct(conn, statement, expressions)
    positions = [plan.positions[column.name] for column in key]

    def make(values: Sequence[Any], *, backwards: bool, at: int, searched: int | None) -> str:
        texts = tuple(key_text(value) for value in values)
        return encode_cursor(secret_key, Cursor(backwards, sort_param, texts, at, searched))

    has_next, rows = len(rows) > size, rows[:size]
    has_previous = cursor is not None
    previous_cursor = None
    if rows and has_previous:
        first = [rows[0][i] for i in positions]
        previous_cursor = make(first, backwards=True, at=position, searched=None)
    next_cursor = None
    if has_next:
        last = [rows[-1][i] for i in positions]
        next_cursor = make(last, backwards=False, at=position + len(rows), searched=None)
    scan = None
    if not has_next and end is not None:
        through = None if through is None else through + chunk_rows
        onward = make(end, backwards=False, at=position + len(rows), searched=through)
        scan = SearchScan(chunk_rows, through, onward)
    return Page(rows, position, next_cursor, previous_cursor, has_next, has_previous, True, scan)


def up_to(
    columns: Sequence[Column], values: Sequence[Any], *, descending: bool
) -> ColumnElement[bool]:
    """Rows up to and including `values` in the order of `columns` (a range's far end)."""
    if len(columns) == 1:
        return columns[0] >= values[0] if descending else columns[0] <= values[0]
    same = and_(*(column == value for column, value in zip(columns, values, strict=True)))
    before = keyset_condition(columns, values, descending=descending, backwards=True)
    return or_(before, same)
