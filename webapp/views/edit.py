"""Create, edit and delete pages: each handler passes the write gate, builds and parses the
record form (webapp.changes.forms), writes through webapp.changes.writes with lost-update
protection, and answers with POST/redirect/GET to the record and a one-time message, or the
form again with the database's refusal in words (webapp.changes.refusals)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.exc import StatementError
from sqlalchemy.sql.elements import ColumnElement

from webapp.accounts.roles import request_catalog, require_write
from webapp.changes.audit import AuditTrail
from webapp.changes.forms import FormField, Mode, form_fields, parse_fields
from webapp.changes.inputs import UNCHANGED, input_spec, new_text
from webapp.changes.refusals import (
    explain_on_form,
    is_refusal,
    referenced_message,
    refusal_message,
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
from webapp.listing.queries import key_condition
from webapp.schema.catalog import TableInfo, hidden_names
from webapp.values import key_text, kind_for, show_value
from webapp.views.common import audit_trail, connection, session_dialect
from webapp.views.history import revert_allowed, revert_href
from webapp.views.record import delete_blockers, load_record, record_cell, record_key
from webapp.web.appkeys import CATALOG, DB_SESSION, ENGINE
from webapp.web.csrf import request_csrf_token
from webapp.web.errors import NoSuchRecord, NotFound
from webapp.web.flash import flash
from webapp.web.request_body import (
    RECORD_FORM_LIMIT,
    SMALL_FORM_LIMIT,
    UPLOAD_LIMIT,
    body_limit,
    read_form,
)
from webapp.web.urls import new_record_url, record_url, table_url

# --- pages ----------------------------------------------------------------------------------


async def new_form(request: web.Request) -> web.Response:
    info = _writable_table(request)
    fields = await _fields(request, info, "create", row=None)
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
    info = _writable_table(request)
    form = await read_form(request)
    fields = await _fields(request, info, "create", row=None, form=form)
    values = parse_fields(fields, session_dialect(request), "create")
    if values is None:
        return await _render_form(request, info, "create", fields, row=None, status=400)
    trail = audit_trail(request)
    try:
        async with write_transaction(request[DB_SESSION], trail) as conn:
            result = await insert_row(conn, info, {k: new_text(v) for k, v in values.items()})
    except StatementError as exc:
        problem = explain_on_form(exc, info, fields, _hidden(request, info))
        return await _render_form(
            request, info, "create", fields, row=None, status=400, form_error=problem
        )
    await flash(request, "Record created.", undo_href=undo_href(request, info, trail, "create"))
    key = [key_text(value) for value in result.key]
    target = record_url(info.name, key) if key else table_url(info.name)
    raise web.HTTPSeeOther(target)


async def edit_form(request: web.Request) -> web.Response:
    info, key_parts, row = await load_record(request)
    require_write(request, info)
    fields = await _fields(request, info, "edit", row=row)
    focus = request.query.get("focus", "")  # the field a table cell's edit link opens on
    return await _render_form(
        request, info, "edit", fields, row=row, status=200, key=key_parts, focus=focus
    )


@body_limit(record_form_limit)
async def save_record(request: web.Request) -> web.Response:
    info, key_parts, condition, form, version = await _posted_change(request)
    current = await read_row(await connection(request), info, condition, lock=False)
    if current is None:
        raise NoSuchRecord()
    fields = await _fields(request, info, "edit", row=current, form=form)
    values = parse_fields(fields, session_dialect(request), "edit")
    if values is None:
        return await _render_form(
            request, info, "edit", fields, row=current, status=400, key=key_parts, version=version
        )
    trail = audit_trail(request)
    try:
        async with write_transaction(request[DB_SESSION], trail) as conn:
            await update_row(conn, info, condition, version, values)
    except RowChanged as exc:
        return _render_conflict(request, info, key_parts, exc.current, values, "edit")
    except StatementError as exc:
        problem = explain_on_form(exc, info, fields, _hidden(request, info))
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
    if not trail.entry_ids:  # every value was the one the row held: nothing was written
        await flash(request, "No changes to save.")
    else:
        undo = undo_href(request, info, trail, "update", set(values))
        await flash(request, "Changes saved.", undo_href=undo)
    raise web.HTTPSeeOther(record_url(info.name, key_parts))


async def delete_form(request: web.Request) -> web.Response:
    info, key_parts, row = await load_record(request)
    require_write(request, info)
    blockers = await delete_blockers(await connection(request), request_catalog(request), info, row)
    return await _render_delete(
        request, info, key_parts, row, row_version(info, row), None, 200, blockers
    )


async def delete_record(request: web.Request) -> web.Response:
    info, key_parts, condition, _, version = await _posted_change(request)
    trail = audit_trail(request)
    try:
        async with write_transaction(request[DB_SESSION], trail) as conn:
            result = await delete_row(conn, info, condition, version)
    except RowChanged as exc:
        return _render_conflict(request, info, key_parts, exc.current, None, "delete")
    except StatementError as exc:
        if not is_refusal(exc):
            raise
        conn = await connection(request)
        row = await read_row(conn, info, condition, lock=False)
        if row is None:
            raise NoSuchRecord() from None
        catalog = request_catalog(request)
        message = await referenced_message(conn, catalog, info, row) or refusal_message(
            exc, hidden_names(info, catalog)
        )
        return await _render_delete(request, info, key_parts, row, version, message, 409)
    undo = undo_href(request, info, trail, "delete", set(result.before or ()))
    await flash(
        request, f"Record {', '.join(key_text(v) for v in result.key)} deleted.", undo_href=undo
    )
    raise web.HTTPSeeOther(table_url(info.name))


# --- rendering ------------------------------------------------------------------------------


async def _render_form(
    request: web.Request,
    info: TableInfo,
    mode: Mode,
    fields: list[FormField],
    *,
    row: Mapping[str, Any] | None,
    status: int,
    key: list[str] | None = None,
    version: str | None = None,
    form_error: str | None = None,
    focus: str = "",
) -> web.Response:
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
        "errors": [field for field in fields if field.error],
        "form_error": form_error,
        "focus": focus,
    }
    return aiohttp_jinja2.render_template("edit.html", request, context, status=status)


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
        differs = (
            yours is not None
            and now is not None
            and yours.text != "(unchanged)"
            and (yours.kind, yours.text) != (now.kind, now.text)
        )
        rows.append({"name": column.name, "yours": yours, "current": now, "differs": differs})
    record_href = record_url(info.name, key_parts)
    return aiohttp_jinja2.render_template(
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
        status=409,
    )


async def _render_delete(
    request: web.Request,
    info: TableInfo,
    key_parts: list[str],
    row: Mapping[str, Any],
    version: str,
    error: str | None,
    status: int,
    blockers: list[dict[str, Any]] | None = None,
) -> web.Response:
    record_href = record_url(info.name, key_parts)
    conn, catalog = await connection(request), request_catalog(request)
    fields = [
        {"name": c.name, "cell": await record_cell(conn, catalog, info, row, c, preview=True)}
        for c in info.columns
    ]
    return aiohttp_jinja2.render_template(
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
            "blockers": blockers or [],
            "fields": fields,
        },
        status=status,
    )


def undo_href(
    request: web.Request,
    info: TableInfo,
    trail: AuditTrail,
    action: str,
    touched: set[str] | None = None,
) -> str | None:
    """Where the flash's Undo link goes after a write: the revert of the one change it made,
    when the user may revert it (a delete restores every column, hidden ones too)."""
    if len(trail.entry_ids) != 1 or not revert_allowed(request, info, action, touched or set()):
        return None
    return revert_href(request, trail.entry_ids[0])


# --- what a request names -------------------------------------------------------------------


def _writable_table(request: web.Request) -> TableInfo:
    """The table the URL names, past the write gate."""
    info = request_catalog(request).by_slug(request.match_info["table"])
    require_write(request, info)
    return info


async def _posted_change(
    request: web.Request,
) -> tuple[TableInfo, list[str], ColumnElement[bool], MultiDictProxy[Any], str]:
    """What an edit or delete POST names: the table (past the write gate), the record's
    key and condition, the form, and the row version the form carries."""
    info = _writable_table(request)
    key_parts = record_key(request)
    condition = key_condition(info, key_parts, session_dialect(request))
    form = await read_form(request)
    return info, key_parts, condition, form, str(form.get("row_version", ""))


async def _fields(
    request: web.Request,
    info: TableInfo,
    mode: Mode,
    *,
    row: Mapping[str, Any] | None,
    form: MultiDictProxy[Any] | None = None,
) -> list[FormField]:
    return await form_fields(
        await connection(request), request_catalog(request), info, mode=mode, row=row, form=form
    )


def _hidden(request: web.Request, info: TableInfo) -> frozenset[str]:
    return hidden_names(info, request_catalog(request))
