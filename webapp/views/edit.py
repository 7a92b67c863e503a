"""Create, edit and delete pages: forms built from the reflected columns, parsed per type on
the server, written through webapp.changes.writes with lost-update protection, then
POST/redirect/GET to the record with a one-time message."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import and_, exists, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from webapp.accounts.permissions import request_catalog, require_write
from webapp.changes.audit import request_trail
from webapp.changes.inputs import (
    UNCHANGED,
    FieldError,
    InputSpec,
    Upload,
    input_spec,
    input_text,
    needs_textarea,
    new_text,
    parse_input,
)
from webapp.changes.writes import (
    RowChanged,
    delete_row,
    insert_row,
    read_row,
    row_version,
    update_row,
    write_transaction,
)
from webapp.database.dialects import can_hold, equals, is_schema_mismatch
from webapp.listing.queries import key_condition
from webapp.schema.catalog import Catalog, TableInfo, hidden_names
from webapp.schema.labels import label_starts_with, row_label
from webapp.values import key_text, kind_for, show_value
from webapp.views.common import connection, request_role
from webapp.views.record import load_record
from webapp.views.table_html import str_type
from webapp.web.appkeys import CATALOG, DB_SESSION, ENGINE, EXPENSIVE_QUERIES
from webapp.web.csrf import request_csrf_token
from webapp.web.errors import NotFound, is_unavailable
from webapp.web.flash import flash
from webapp.web.html_text import visible_controls
from webapp.web.request_body import (
    RECORD_FORM_LIMIT,
    SMALL_FORM_LIMIT,
    UPLOAD_LIMIT,
    body_limit,
    read_form,
)
from webapp.web.urls import UrlDecodeError, decode_key, new_record_url, record_url, table_url

FK_SELECT_LIMIT = 100
LOOKUP_LIMIT = 20
SELECT_KINDS = ("bool", "enum", "select")
OMIT = object()  # leave the column to the database (create) or as it is (edit)


# --- pages ----------------------------------------------------------------------------------


async def new_form(request: web.Request) -> web.Response:
    info = _editable_table(request)
    fields = await form_fields(request, info, mode="create", row=None)
    return await _render_form(request, info, "create", fields, row=None, status=200)


def record_form_limit(request: web.Request) -> int:
    """A record form takes files only when its table has a binary column; otherwise it
    needs room for its fields' longest texts, so a table of short columns gets a small
    limit and one with unbounded texts RECORD_FORM_LIMIT."""
    try:
        info = request.app[CATALOG].by_slug(request.match_info["table"])
    except NotFound:
        return SMALL_FORM_LIMIT
    dialect = request.app[ENGINE].dialect
    specs = [input_spec(column, i, dialect) for i, column in enumerate(info.columns)]
    if any(spec.kind == "file" for spec in specs):
        return UPLOAD_LIMIT
    if any(spec.parse_as in ("text", "json") and not spec.maxlength for spec in specs):
        return RECORD_FORM_LIMIT
    # Each character may take four UTF-8 bytes, each written as a three-character escape.
    room = sum(12 * (spec.maxlength or 0) for spec in specs)
    return min(RECORD_FORM_LIMIT, SMALL_FORM_LIMIT + room)


@body_limit(record_form_limit)
async def create_record(request: web.Request) -> web.Response:
    info = _editable_table(request)
    form = await read_form(request)
    fields = await form_fields(request, info, mode="create", row=None, form=form)
    values = await _parse_form(fields, request, mode="create")
    if values is None:
        return await _render_form(request, info, "create", fields, row=None, status=400)
    try:
        async with write_transaction(request[DB_SESSION], request_trail(request)) as conn:
            result = await insert_row(conn, info, {k: new_text(v) for k, v in values.items()})
    except StatementError as exc:
        problem = _explain_database_error(exc, info, fields, _hidden(request, info))
        return await _render_form(
            request, info, "create", fields, row=None, status=400, form_error=problem
        )
    await flash(request, "Record created.")
    key = [key_text(value) for value in result.key]
    target = record_url(info.name, key) if key else table_url(info.name)
    raise web.HTTPSeeOther(target)


async def edit_form(request: web.Request) -> web.Response:
    info, key_parts, row = await load_record(request)
    require_write(request, info)
    fields = await form_fields(request, info, mode="edit", row=row)
    return await _render_form(request, info, "edit", fields, row=row, status=200, key=key_parts)


@body_limit(record_form_limit)
async def save_record(request: web.Request) -> web.Response:
    info, key_parts, condition, form, version = await _posted_change(request)
    current = await read_row(await connection(request), info, condition, lock=False)
    if current is None:
        raise NotFound(f"{info.name!r} has no record with this key.")
    fields = await form_fields(request, info, mode="edit", row=current, form=form)
    values = await _parse_form(fields, request, mode="edit")
    if values is None:
        return await _render_form(
            request, info, "edit", fields, row=current, status=400, key=key_parts, version=version
        )
    try:
        async with write_transaction(request[DB_SESSION], request_trail(request)) as conn:
            await update_row(conn, info, condition, version, values)
    except RowChanged as exc:
        return _render_conflict(request, info, key_parts, exc.current, values, "edit")
    except StatementError as exc:
        problem = _explain_database_error(exc, info, fields, _hidden(request, info))
        return await _render_form(
            request,
            info,
            "edit",
            fields,
            row=current,
            status=400,
            key=key_parts,
            version=version,
            form_error=problem,
        )
    await flash(request, "Changes saved.")
    raise web.HTTPSeeOther(record_url(info.name, key_parts))


async def delete_form(request: web.Request) -> web.Response:
    info, key_parts, row = await load_record(request)
    require_write(request, info)
    return await _render_delete(request, info, key_parts, row, row_version(info, row), None, 200)


async def delete_record(request: web.Request) -> web.Response:
    info, key_parts, condition, _, version = await _posted_change(request)
    try:
        async with write_transaction(request[DB_SESSION], request_trail(request)) as conn:
            result = await delete_row(conn, info, condition, version)
    except RowChanged as exc:
        return _render_conflict(request, info, key_parts, exc.current, None, "delete")
    except StatementError as exc:
        if is_unavailable(exc) or is_schema_mismatch(exc):
            raise
        conn = await connection(request)
        row = await read_row(conn, info, condition, lock=False)
        if row is None:
            raise NotFound(f"{info.name!r} has no record with this key.") from None
        catalog = request_catalog(request)
        message = await _referenced_message(conn, catalog, info, row) or _database_message(
            exc, hidden_names(info, catalog)
        )
        return await _render_delete(request, info, key_parts, row, version, message, 409)
    await flash(request, f"Record {', '.join(key_text(v) for v in result.key)} deleted.")
    raise web.HTTPSeeOther(table_url(info.name))


async def lookup(request: web.Request) -> web.Response:
    """JSON for the foreign-key picker: rows of this table whose key is the query or whose
    label starts with it, as [{key, label}]."""
    info = request_catalog(request).by_slug(request.match_info["table"])
    if len(info.primary_key) != 1:
        raise NotFound(f"{info.name!r} has no single-column primary key to pick by.")
    query = request.query.get("q", "")[:200]
    key_column = info.primary_key[0]
    label = row_label(info.label_columns).label("label") if info.label_columns else None
    selected = [key_column, *([label] if label is not None else [])]
    statement = select(*selected).order_by(key_column).limit(LOOKUP_LIMIT)
    if query:
        matches = []
        dialect = _dialect(request)
        spec = input_spec(key_column, 0, dialect)
        with contextlib.suppress(FieldError):
            matches.append(equals(key_column, parse_input(spec, query, dialect), dialect))
        if info.label_columns:
            matches.append(label_starts_with(info.label_columns, query, dialect))
        if not matches:
            return web.json_response([])
        statement = statement.where(matches[0] if len(matches) == 1 else matches[0] | matches[1])

    async def fetch(conn: AsyncConnection) -> list[Any]:
        return list((await conn.execute(statement)).all())

    if query and label is not None:  # a label prefix no index may serve: an expensive kind
        key = ("lookup", request_role(request), info.name, query)
        rows = await request.app[EXPENSIVE_QUERIES].run(key, fetch)
    else:
        rows = await fetch(await connection(request))
    return web.json_response(
        [
            {
                "key": input_text(values[0]),
                "label": _option_label(values[0], values[1] if label is not None else None),
            }
            for values in rows
        ]
    )


# --- the form -------------------------------------------------------------------------------


async def form_fields(
    request: web.Request,
    info: TableInfo,
    *,
    mode: str,
    row: Mapping[str, Any] | None,
    form: MultiDictProxy[Any] | None = None,
) -> list[dict[str, Any]]:
    """One dict per column for the form template: its widget, the text in it (the stored
    value, or what the user sent), NULL/default choices, options, and room for an error."""
    conn = await connection(request)
    fields = []
    for position, column in enumerate(info.columns):
        spec = input_spec(column, position, conn.dialect)
        current = row[column.name] if row is not None else None
        widget = spec.kind
        if (mode == "create" and spec.database_fills) or (mode == "edit" and column.primary_key):
            widget = "fixed"
        elif column.name in info.read_only_columns:
            widget = "readonly"
        elif mode == "edit" and row is not None and not spec.value_kind.editable(current):
            widget = "readonly"  # not a value of the column's type: kept as it is stored
        field: dict[str, Any] = {
            "spec": spec,
            "name": column.name,
            "type": str_type(column.type),
            "widget": widget,
            "error": None,
            "options": [],
            "lookup_href": None,
            "current": kind_for(column).show(current, preview=True) if row else None,
            "is_null": mode == "edit" and current is None,
            "use_default": mode == "create" and spec.has_default,
            "text": spec.value_kind.input_text(current) if row is not None else "",
        }
        if mode == "create" and not spec.has_default and spec.nullable:
            field["is_null"] = spec.parse_as == "text"
        if widget in ("text", "textarea"):
            await _foreign_key_widget(conn, request, info, column, field)
        if form is not None:
            _take_input(field, form)
        if field["widget"] == "text" and needs_textarea(spec, field["text"]):
            field["widget"] = "textarea"
        fields.append(field)
    return fields


async def _foreign_key_widget(
    conn: AsyncConnection, request: web.Request, info: TableInfo, column: Any, field: dict
) -> None:
    """A select of the referenced rows for a small table; for a large one, a key input with
    a search-as-you-type picker (static/edit.js) over the lookup endpoint."""
    relation = info.relation_for(column.name)
    if relation is None or len(relation.columns) != 1:
        return
    target = request_catalog(request).tables[relation.target]
    if len(target.primary_key) != 1 or target.primary_key[0].name != relation.target_columns[0]:
        return
    key_column = target.primary_key[0]
    label = row_label(target.label_columns).label("label") if target.label_columns else None
    selected = [key_column, *([label] if label is not None else [])]
    statement = select(*selected).order_by(key_column).limit(FK_SELECT_LIMIT + 1)
    rows = (await conn.execute(statement)).all()
    if len(rows) > FK_SELECT_LIMIT:
        field["lookup_href"] = f"{table_url(target.name)}/lookup"
        return
    field["widget"] = "select"
    field["options"] = [
        (input_text(values[0]), _option_label(values[0], values[1] if label is not None else None))
        for values in rows
    ]


def _take_input(field: dict[str, Any], form: MultiDictProxy[Any]) -> None:
    spec: InputSpec = field["spec"]
    raw = form.get(spec.name)
    if isinstance(raw, str) and raw != field["text"]:
        # A stored text with control characters is shown escaped (html_text); the same
        # escapes sent back mean the value was left as it is.
        shown = visible_controls(field["text"])
        if shown != field["text"] and _lines(raw) == _lines(shown):
            raw = field["text"]
    field["raw"] = raw
    if isinstance(raw, str):
        field["text"] = raw
    field["is_null"] = spec.null_name in form
    field["use_default"] = spec.default_name in form


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")


async def _parse_form(
    fields: list[dict[str, Any]], request: web.Request, *, mode: str
) -> dict[str, Any] | None:
    """The values to write by column name, or None after marking each field's error."""
    dialect = _dialect(request)
    values: dict[str, Any] = {}
    ok = True
    for field in fields:
        try:
            value = _parse_field(field, dialect, mode)
        except FieldError as exc:
            field["error"] = str(exc)
            ok = False
            continue
        if value is not OMIT:
            values[field["name"]] = value
    return values if ok else None


def _parse_field(field: dict[str, Any], dialect: Any, mode: str) -> Any:
    spec: InputSpec = field["spec"]
    if field["widget"] in ("fixed", "readonly"):
        return OMIT
    raw = field.get("raw")
    text = raw if isinstance(raw, str) else ""
    if field["widget"] == "file":
        upload = _upload(raw)
        if field["is_null"]:
            if upload is not None:
                raise FieldError("Untick NULL to upload this file, or choose no file.")
            return None
        if upload is None:
            if mode == "create":
                return OMIT if field["use_default"] else b""
            return UNCHANGED
        return upload.data
    if field["use_default"]:
        if text:
            raise FieldError("Untick “database default” to save this value, or clear it.")
        return OMIT
    if field["widget"] in SELECT_KINDS:
        if text == spec.null_choice:
            if spec.nullable:
                return None
            raise FieldError("Choose a value.")
        if field["widget"] == "select" and text not in {value for value, _ in field["options"]}:
            raise FieldError("Choose one of the listed rows.")
    elif field["is_null"] and spec.nullable:
        if text:
            raise FieldError("Untick NULL to save this value, or clear it.")
        return None
    elif text.strip() == "" and spec.nullable and spec.parse_as != "text":
        return None
    elif text == "" and spec.parse_as not in ("text", "json"):
        raise FieldError("A value is required.")
    value = parse_input(spec, text, dialect)
    if isinstance(value, str) and not can_hold(spec.column, value, dialect):
        raise FieldError(
            "This column cannot store some of these characters (NUL or ones "
            "outside its character set)."
        )
    return value


def _upload(raw: Any) -> Upload | None:
    if isinstance(raw, web.FileField):
        return Upload(raw.filename, raw.file.read())
    if isinstance(raw, bytes) and raw:
        return Upload("", raw)
    return None


async def _render_form(
    request: web.Request,
    info: TableInfo,
    mode: str,
    fields: list[dict[str, Any]],
    *,
    row: Mapping[str, Any] | None,
    status: int,
    key: list[str] | None = None,
    version: str | None = None,
    form_error: str | None = None,
) -> web.Response:
    errors = [field for field in fields if field["error"]]
    record_href = record_url(info.name, key) if key is not None else None
    context = {
        "info": info,
        "mode": mode,
        "fields": fields,
        "csrf_token": await request_csrf_token(request),
        "row_version": version or (row_version(info, row) if row is not None else ""),
        "table_href": table_url(info.name),
        "record_href": record_href,
        "title_key": ", ".join(key) if key else "",
        "action": (record_href + "/edit") if record_href else new_record_url(info.name),
        "errors": errors,
        "form_error": form_error,
    }
    response = aiohttp_jinja2.render_template("edit.html", request, context)
    response.set_status(status)
    return response


def _render_conflict(
    request: web.Request,
    info: TableInfo,
    key_parts: list[str],
    current: Mapping[str, Any] | None,
    values: Mapping[str, Any] | None,
    action: str,
) -> web.Response:
    """409: the row changed (or went) since the form was opened; show the user's values
    beside the current ones. Nothing was written."""
    rows = []
    for column in info.columns:
        yours = None
        if values is not None:
            value = values.get(column.name, UNCHANGED)
            yours = (
                show_value("(unchanged)", preview=True)
                if value is UNCHANGED
                else kind_for(column).show(value, preview=True)
            )
        now = kind_for(column).show(current[column.name], preview=True) if current else None
        differs = yours is not None and now is not None and yours.text != "(unchanged)"
        rows.append(
            {
                "name": column.name,
                "yours": yours,
                "current": now,
                "differs": differs and (yours.kind, yours.text) != (now.kind, now.text),
            }
        )
    record_href = record_url(info.name, key_parts)
    response = aiohttp_jinja2.render_template(
        "conflict.html",
        request,
        {
            "info": info,
            "action": action,
            "gone": current is None,
            "rows": rows,
            "title_key": ", ".join(key_parts),
            "table_href": table_url(info.name),
            "record_href": record_href,
            "retry_href": f"{record_href}/{action}",
        },
    )
    response.set_status(409)
    return response


async def _render_delete(
    request: web.Request,
    info: TableInfo,
    key_parts: list[str],
    row: Mapping[str, Any],
    version: str,
    error: str | None,
    status: int,
) -> web.Response:
    record_href = record_url(info.name, key_parts)
    response = aiohttp_jinja2.render_template(
        "delete.html",
        request,
        {
            "info": info,
            "title_key": ", ".join(key_parts),
            "table_href": table_url(info.name),
            "record_href": record_href,
            "action": record_href + "/delete",
            "csrf_token": await request_csrf_token(request),
            "row_version": version,
            "error": error,
            "fields": [
                {"name": c.name, "cell": kind_for(c).show(row[c.name], preview=True)}
                for c in info.columns
            ],
        },
    )
    response.set_status(status)
    return response


# --- database refusals ----------------------------------------------------------------------

REFUSALS = (
    (("unique", "duplicate"), "Another row already has this value."),
    (("foreign key",), "No row of the referenced table has this key."),
    (("not null", "cannot be null", "doesn't have a default"), "A value is required."),
    (("too long", "right truncation", "data too long"), "The value is too long."),
    (("out of range", "out of int", "overflow"), "The value is out of range."),
    (("check", "constraint"), "The database refused it."),
)


def _explain_database_error(
    exc: StatementError, info: TableInfo, fields: list[dict], hidden: frozenset[str]
) -> str | None:
    """Turn a database refusal into a message on the field it names, or (returned) one
    for above the form. Unreachable databases stay 503s; a table or column the database no
    longer has is schema.watch's to explain."""
    if is_unavailable(exc) or is_schema_mismatch(exc):
        raise exc
    message = _database_message(exc, hidden)
    named = [field for field in fields if _names_column(message, info.name, field["name"])]
    if named and named[0]["widget"] not in ("fixed", "readonly"):
        named[0]["error"] = message
        return None
    return message


def _names_column(message: str, table: str, column: str) -> bool:
    """Whether a database message names `column` (quoted, or as table.column)."""
    name = re.escape(column)
    pattern = rf"(?:[`'\"(]{name}[`'\")]|{re.escape(table)}\.{name}(?!\w))"
    return re.search(pattern, message, re.IGNORECASE) is not None


def _database_message(exc: StatementError, hidden: frozenset[str]) -> str:
    """The refusal in words, with the database's own text unless that text names a table or
    column hidden from the user (`hidden`), which no message may show."""
    detail = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    text = detail[0] if detail else type(exc).__name__
    if len(text) > 300:
        text = text[:300] + "…"
    lowered = text.lower()
    said = f" The database said: {text}"
    if any(name.lower() in lowered for name in hidden):
        said = ""
    for markers, sentence in REFUSALS:
        if any(marker in lowered for marker in markers):
            return sentence + said
    return "The database refused the change." + said


async def _referenced_message(
    conn: AsyncConnection, catalog: Catalog, info: TableInfo, row: Mapping[str, Any]
) -> str | None:
    """Which tables still hold rows pointing at `row`, as a sentence for the delete page."""
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


# --- helpers --------------------------------------------------------------------------------


def _editable_table(request: web.Request) -> TableInfo:
    info = request_catalog(request).by_slug(request.match_info["table"])
    require_write(request, info)
    return info


async def _posted_change(
    request: web.Request,
) -> tuple[TableInfo, list[str], ColumnElement[bool], MultiDictProxy[Any], str]:
    """What an edit or delete POST names: the table (the user may change it), the record's
    key and condition, the form, and the row version the form carries."""
    info = _editable_table(request)
    key_parts = _key_parts(request)
    condition = key_condition(info, key_parts, _dialect(request))
    form = await read_form(request)
    return info, key_parts, condition, form, str(form.get("row_version", ""))


def _hidden(request: web.Request, info: TableInfo) -> frozenset[str]:
    return hidden_names(info, request_catalog(request))


def _key_parts(request: web.Request) -> list[str]:
    try:
        return decode_key(request.match_info["key"])
    except UrlDecodeError:
        raise NotFound("No record has this key.") from None


def _dialect(request: web.Request) -> Any:
    return request[DB_SESSION].bind.dialect


def _option_label(key: Any, label: Any) -> str:
    text = key_text(key)
    if label not in (None, ""):
        return f"{text} — {show_value(label, preview=True).text}"
    return text
