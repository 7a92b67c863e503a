"""The record page: every column of one row, addressed by its primary key, and the rows of
other tables that reference it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import Column, Select, Table, and_, bindparam, exists, literal_column, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from webapp.accounts.roles import request_catalog, write_refusal
from webapp.changes.audit import record_hash
from webapp.database.decoding import fetch_rows
from webapp.database.driver_rows import fetch_rows_direct
from webapp.listing.counts import RowCount, bounded_count
from webapp.listing.queries import key_condition, key_values
from webapp.schema.catalog import Catalog, Relation, TableInfo, str_type
from webapp.schema.labels import (
    label_text,
    load_labels,
    record_label_expressions,
    row_label,
    row_label_text,
)
from webapp.values import Cell, key_text, kind_for, show_value
from webapp.values.images import preview_type
from webapp.views.common import attachment_disposition, audit_log, connection
from webapp.views.history import record_history
from webapp.web.errors import NoSuchRecord, NotFound
from webapp.web.urls import (
    UrlDecodeError,
    key_from_segment,
    record_url,
    table_url,
    tilde_decode,
    tilde_encode,
)

REFERENCING_SAMPLE = 10


def filled_reference(info: TableInfo, row: Mapping[str, Any], column: Column) -> Relation | None:
    """The foreign key `column` belongs to, when the row holds every one of its columns (a
    key with a NULL part refers to nothing)."""
    relation = info.relation_for(column.name)
    if relation is None or any(row[name] is None for name in relation.columns):
        return None
    return relation


def value_cell(
    info: TableInfo,
    row: Mapping[str, Any],
    column: Column,
    *,
    preview: bool,
    label: str | None = None,
) -> Cell:
    """A value of a record as its pages show it: a foreign key links to the referenced row
    and is named by `label`, that row's label, so no page shows a bare key where a name
    exists."""
    cell = kind_for(column).show(row[column.name], preview=preview)
    relation = filled_reference(info, row, column)
    if relation is not None:
        target = record_url(relation.target, [key_text(row[name]) for name in relation.columns])
        cell = cell.linked(target).labelled(label)
    return cell


async def record_cell(
    conn: AsyncConnection,
    catalog: Catalog,
    info: TableInfo,
    row: Mapping[str, Any],
    column: Column,
    *,
    preview: bool,
) -> Cell:
    """`value_cell` with the referenced row's label looked up (the record page itself
    fetches its labels with its row: `load_record_with_extras`)."""
    label = None
    relation = filled_reference(info, row, column)
    if relation is not None:
        labels = await load_labels(conn, catalog, relation, [row[column.name]])
        label = labels.get(row[column.name])
    return value_cell(info, row, column, preview=preview, label=label)


@aiohttp_jinja2.template("record.html")
async def record_page(request: web.Request) -> dict[str, Any]:
    catalog = request_catalog(request)
    info, key_parts, row, extras = await load_record_with_extras(request)
    conn = await connection(request)
    record_href = record_url(info.name, key_parts)
    fields = []
    for column, type_name in zip(info.columns, extras.type_names, strict=True):
        label = label_text(extras.labels.get(column.name))
        cell = value_cell(info, row, column, preview=False, label=label)
        picture = preview_type(row[column.name]) if cell.kind == "binary" else None
        fields.append(
            {
                "download_href": (
                    f"{record_href}/raw/{tilde_encode(column.name)}"
                    if cell.kind == "binary" and row[column.name]
                    else None
                ),
                "image_href": (
                    f"{record_href}/image/{tilde_encode(column.name)}" if picture else None
                ),
                "image_type": picture.removeprefix("image/").upper() if picture else None,
                "name": str(column.name),  # plain text: a quoted_name escapes slowly
                "type": type_name,
                "cell": cell,
                "is_key": column.primary_key,
                "nullable": column.nullable,
            }
        )
    title_key = ", ".join(key_parts)
    return {
        "info": info,
        "table_href": table_url(info.name),
        "read_only_reason": write_refusal(request, info),
        "edit_href": record_href + "/edit",
        "delete_href": record_href + "/delete",
        "title_key": title_key,
        "label": row_label_text(info, row),
        "fields": fields,
        "referenced_by": [
            await referencing_rows(conn, catalog, relation, row) for relation in info.incoming
        ],
        "history": await record_history(request, info, row, known_empty=extras.no_history),
    }


@dataclass(frozen=True)
class RecordExtras:
    """What the record page's one statement fetched beside the row: the label of each
    foreign key's referenced row (by column name), and whether the audit log surely holds
    no entry for the record (so its history needs no statement of its own)."""

    labels: dict[str, Any]
    no_history: bool
    type_names: list[str]  # each column's type as the page names it


async def load_record_with_extras(
    request: web.Request,
) -> tuple[TableInfo, list[str], dict[str, Any], RecordExtras]:
    """load_record, and in the same statement the foreign keys' labels (correlated scalar
    subqueries, a primary-key lookup each) and whether the record has any history (an
    EXISTS on the audit log's record index, when the log shares the data's database)."""
    catalog = request_catalog(request)
    info = catalog.by_slug(request.match_info["table"])
    key_parts = record_key(request)
    conn = await connection(request)
    values = key_values(info, key_parts, conn.dialect)
    audit = audit_log(request.app)
    entries = audit.table if audit.separate is None else None
    shape = info.derived(
        ("record", conn.dialect.name, entries is not None),
        lambda: record_shape(catalog, info, conn.dialect, entries),
    )
    parameters = {f"key_{n}": value for n, value in enumerate(values)}
    history_hash = record_hash(info.name, values)
    if entries is not None:
        parameters["history_hash"] = history_hash
    rows = await fetch_rows_direct(conn, shape.statement, shape.selected, parameters)
    if not rows:
        raise NoSuchRecord()
    found = rows[0]
    names = shape.names
    row = dict(zip(names, found[: len(names)], strict=True))
    labels = shape.labels
    fetched_labels = dict(zip(labels, found[len(names) : len(names) + len(labels)], strict=True))
    # The log is indexed by the key as the row holds it: the URL's spelling of it may differ
    # (a case-insensitive collation), and then the log is asked again with the row's key.
    no_history = (
        entries is not None
        and not found[-1]
        and history_hash == record_hash(info.name, [row[c.name] for c in info.primary_key])
    )
    return info, key_parts, row, RecordExtras(fetched_labels, no_history, shape.type_names)


@dataclass(frozen=True)
class RecordShape:
    """The record page's statement for one table, built once: its row's columns, the labels
    of its foreign keys and (`history_hash` given) whether the audit log holds entries of
    the record, for the key given as `key_0`, `key_1`... at execution."""

    statement: Select[Any]
    selected: list[ColumnElement[Any]]
    names: list[str]
    labels: list[str]
    type_names: list[str]


def record_shape(
    catalog: Catalog, info: TableInfo, dialect: Dialect, entries: Table | None
) -> RecordShape:
    expressions = [kind_for(column, dialect).record_expression() for column in info.columns]
    labels = record_label_expressions(catalog, info)
    selected = [*expressions, *labels.values()]
    if entries is not None:
        selected.append(
            exists()
            .where(
                entries.c.key_hash == bindparam("history_hash", type_=entries.c.key_hash.type),
                entries.c.table_name == info.name,
            )
            .label("has_history")
        )
    condition = and_(
        *(
            column == bindparam(f"key_{n}", type_=column.type)
            for n, column in enumerate(info.primary_key)
        )
    )
    return RecordShape(
        select(*selected).where(condition).limit(2),
        selected,
        [column.name for column in info.columns],
        list(labels),
        [str_type(column.type) for column in info.columns],
    )


async def record_value(request: web.Request) -> web.Response:
    """One value of a record, whole, as a download: binary as it is, anything else as UTF-8
    text. Always an attachment, so nothing from the database is rendered by the browser."""
    info, key_parts, row = await load_record(request)
    try:
        name = tilde_decode(request.match_info["column"])
    except UrlDecodeError:
        raise NotFound("No such column.") from None
    if name not in row:
        raise NotFound(f"{info.name!r} has no column {name!r}.")
    value = row[name]
    if value is None:
        raise NotFound("This value is NULL.")
    if isinstance(value, bytes | bytearray | memoryview):
        body, content_type, extension = bytes(value), "application/octet-stream", "bin"
    else:
        text = value if isinstance(value, str) else show_value(value, preview=False).text
        body, content_type, extension = text.encode("utf-8"), "text/plain", "txt"
    filename = f"{info.name}-{'-'.join(key_parts)}-{name}.{extension}"
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8" if extension == "txt" else None,
        headers={
            "Content-Disposition": attachment_disposition(filename),
        },
    )


IMAGE_POLICY = "sandbox; default-src 'none'"


async def record_image(request: web.Request) -> web.Response:
    """A binary value of a record shown as a picture (the record page's preview): only a
    PNG, JPEG, GIF or WebP known by its first bytes, under the preview size, served as the
    type those bytes say, never sniffed again by the browser and sandboxed; anything else
    is a 404. Only that column of the row is read, under the same role rules as the page."""
    info = request_catalog(request).by_slug(request.match_info["table"])
    key_parts = record_key(request)
    try:
        name = tilde_decode(request.match_info["column"])
    except UrlDecodeError:
        raise NotFound("No such column.") from None
    column = next((c for c in info.columns if c.name == name), None)
    if column is None:
        raise NotFound(f"{info.name!r} has no column {name!r}.")
    conn = await connection(request)
    expression = kind_for(column, conn.dialect).record_expression()
    condition = key_condition(info, key_parts, conn.dialect)
    rows = await fetch_rows(conn, select(expression).where(condition).limit(2), [expression])
    if not rows:
        raise NoSuchRecord()
    value = rows[0][0]
    content_type = preview_type(value)
    if content_type is None:
        raise NotFound("This value is not a picture that can be shown.")
    return web.Response(
        body=bytes(value),
        content_type=content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": IMAGE_POLICY,
            "Content-Disposition": "inline",
        },
    )


async def load_record(request: web.Request) -> tuple[TableInfo, list[str], dict[str, Any]]:
    """The table, key and row (the columns the user may see, by name) that the request's
    URL names; NotFound for an unknown table, NoSuchRecord for a key that finds no row."""
    info = request_catalog(request).by_slug(request.match_info["table"])
    key_parts = record_key(request)
    conn = await connection(request)
    expressions = [kind_for(column, conn.dialect).record_expression() for column in info.columns]
    statement = select(*expressions).where(key_condition(info, key_parts, conn.dialect)).limit(2)
    rows = await fetch_rows(conn, statement, expressions)
    if not rows:
        raise NoSuchRecord()
    return info, key_parts, dict(zip([c.name for c in info.columns], rows[0], strict=True))


def record_key(request: web.Request) -> list[str]:
    """The record key's parts the URL names, as text (webapp.listing.queries.key_condition
    turns them into a WHERE clause); NoSuchRecord if the path segment does not decode."""
    try:
        return key_from_segment(request.match_info["key"])
    except UrlDecodeError:
        raise NoSuchRecord() from None


async def delete_blockers(
    conn: AsyncConnection, catalog: Catalog, info: TableInfo, row: dict[str, Any]
) -> list[dict[str, Any]]:
    """The referencing rows that would make the database refuse to delete `row`, counted per
    foreign key (one the database follows by deleting or clearing them is no obstacle), for
    the delete page to say so before the user tries."""
    blockers = []
    for relation in info.incoming:
        if relation.refuses_delete:
            found = await referencing_rows(conn, catalog, relation, row, samples=False)
            if found["count"].value:
                blockers.append(found)
    return blockers


async def referencing_rows(
    conn: AsyncConnection,
    catalog: Catalog,
    relation: Relation,
    row: dict[str, Any],
    *,
    samples: bool = True,
) -> dict[str, Any]:
    """How many rows of another table point at this one, and (`samples`) the first few."""
    child = catalog.tables[relation.table]
    condition = and_(
        *(
            child.table.c[column] == row[target]
            for column, target in zip(relation.columns, relation.target_columns, strict=True)
        )
    )
    first_rows: list[dict[str, str]] = []
    count: RowCount | None = None
    if samples and child.primary_key and _indexed(child, relation.columns):
        # An index finds the first few quickly: when they are all there are, they are the
        # count too, and the time-limited count is left out.
        first_rows = await _sample(conn, child, condition, REFERENCING_SAMPLE + 1)
        if len(first_rows) <= REFERENCING_SAMPLE:
            count = RowCount(len(first_rows), "exact")
        del first_rows[REFERENCING_SAMPLE:]
    if count is None:
        statement: Select[Any] = (
            select(literal_column("1")).select_from(child.table).where(condition)
        )
        count = await bounded_count(conn, child, statement=statement)
        if samples and child.primary_key and count.value and not first_rows:
            first_rows = await _sample(conn, child, condition, REFERENCING_SAMPLE)
    filters = [
        (f"{column}__exact", key_text(row[target]))
        for column, target in zip(relation.columns, relation.target_columns, strict=True)
    ]
    return {
        "table": child.name,
        "columns": relation.columns,
        "table_href": table_url(child.name),
        "filtered_href": table_url(child.name, filters),
        "count": count,
        "samples": first_rows,
        "more": count.kind != "exact" or count.value > len(first_rows),
    }


def _indexed(child: TableInfo, columns: Sequence[str]) -> bool:
    """Whether an index of `child` (its primary key included) begins with `columns`, so
    that looking up the rows holding given values of them reads only those rows."""
    wanted = set(columns)
    leading = [[column.name for column in child.table.primary_key.columns]]
    leading += [[column.name for column in index.columns] for index in child.table.indexes]
    return any(set(names[: len(wanted)]) == wanted for names in leading)


async def _sample(
    conn: AsyncConnection, child: TableInfo, condition: Any, limit: int
) -> list[dict[str, str]]:
    label = row_label(child.label_columns).label("label") if child.label_columns else None
    key_columns = list(child.primary_key)
    selected = [*key_columns, *([label] if label is not None else [])]
    statement = select(*selected).where(condition).order_by(*key_columns).limit(limit)
    samples = []
    for values in await fetch_rows(conn, statement, selected):
        keys = [key_text(value) for value in values[: len(key_columns)]]
        text = ", ".join(keys)
        if label is not None and values[-1] not in (None, ""):
            text = f"{text}: {show_value(values[-1], preview=True).text}"
        samples.append({"href": record_url(child.name, keys), "text": text})
    return samples
