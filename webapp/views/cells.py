"""Editing one value in place on the table page (static/inline.js). GET gives the value as
the record form's field for its column holds it, and the row's version; POST saves it the
way the record form does: the same write gate, field parsing (webapp.changes.forms),
lost-update check and audit entry (webapp.changes.writes). Both answer JSON for the
script: the new cell, a sentence for the field, or (409) the row as it is now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.accounts.roles import request_catalog, require_write
from webapp.changes.forms import OMIT, FormField, column_field, editable_in_list
from webapp.changes.inputs import UNCHANGED, FieldError
from webapp.changes.refusals import is_refusal, refusal_message
from webapp.changes.writes import RowChanged, read_row, row_version, update_row, write_transaction
from webapp.listing.queries import key_condition
from webapp.listing.rows_html import cell_class, cell_html
from webapp.schema.catalog import Catalog, TableInfo, hidden_names
from webapp.schema.labels import load_labels
from webapp.values import key_text, kind_for
from webapp.views.common import audit_trail, connection, session_dialect
from webapp.views.edit import record_form_limit
from webapp.views.record import load_record, record_key
from webapp.web.appkeys import DB_SESSION
from webapp.web.errors import AppError, BadRequest, Forbidden, NoSuchRecord, NotFound
from webapp.web.problems import json_bytes
from webapp.web.request_body import body_limit, read_form
from webapp.web.urls import record_url

COLUMN_PARAM = "column"
NOT_IN_PLACE = "This value cannot be edited in the list; open the record's form."


async def cell_value(request: web.Request) -> web.Response:
    """The value to edit: its text, widget and choices as the record form would offer
    them, and the version of the row it belongs to (what the save will be checked
    against)."""
    try:
        info, _, row = await load_record(request)
        require_write(request, info)
        position = _column_position(request, info)
        conn = await connection(request)
        field = await column_field(
            conn, request_catalog(request), info, position, mode="edit", row=row
        )
        _require_in_place(info, field)
    except AppError as exc:
        return _refusal(exc)
    return _answer(200, {**_field_document(field), "version": row_version(info, row)})


@body_limit(record_form_limit)
async def save_cell(request: web.Request) -> web.Response:
    """Save the value if the row is still at the version the editor started from: 200 with
    the new cell, 400 with the field's error, 409 with the value the row holds now (and
    its version, to save over it on purpose)."""
    try:
        info = request_catalog(request).by_slug(request.match_info["table"])
        require_write(request, info)
        position = _column_position(request, info)
        key_parts = record_key(request)
        dialect = session_dialect(request)
        condition = key_condition(info, key_parts, dialect)
        form = await read_form(request)
        version = str(form.get("version", ""))
        conn = await connection(request)
        current = await read_row(conn, info, condition, lock=False)
        if current is None:
            raise NoSuchRecord()
        field = await column_field(
            conn, request_catalog(request), info, position, mode="edit", row=current
        )
        _require_in_place(info, field)
        field.take_input(_sent(field, form))
        value = field.value(dialect, "edit")
        if value is OMIT or value is UNCHANGED:
            raise BadRequest(NOT_IN_PLACE)
        trail = audit_trail(request)
        async with write_transaction(request[DB_SESSION], trail) as conn:
            result = await update_row(conn, info, condition, version, {field.name: value})
    except AppError as exc:
        return _refusal(exc)
    except FieldError as exc:
        return _answer(400, {"error": str(exc)})
    except RowChanged as exc:
        return await _changed(request, info, position, exc.current)
    except StatementError as exc:
        if not is_refusal(exc):
            raise
        hidden = hidden_names(info, request_catalog(request))
        return _answer(400, {"error": refusal_message(exc, hidden)})
    after = result.after or current
    cell = await _cell_document(await connection(request), request, info, position, after)
    saved = bool(trail.entry_ids)
    message = f"Saved {field.name}." if saved else f"No change to {field.name}."
    return _answer(
        200,
        {
            **cell,
            "saved": saved,
            "message": message,
            "version": row_version(info, after),
            "record": record_url(info.name, key_parts),
        },
    )


# --- what a request names -------------------------------------------------------------------


def _column_position(request: web.Request, info: TableInfo) -> int:
    """Where the column the query names sits among the columns the user sees; 404 for one
    they do not (hidden or unknown: the same answer)."""
    name = request.query.get(COLUMN_PARAM, "")
    for position, column in enumerate(info.columns):
        if column.name == name:
            return position
    raise NotFound(f"{info.name!r} has no column {name[:100]!r}.")


def _require_in_place(info: TableInfo, field: FormField) -> None:
    """Refuse a column the table page does not offer to edit: read-only for the role (403,
    as the write path would), or one whose value only the record form can change."""
    column = field.spec.column
    if column.name in info.read_only_columns:
        raise Forbidden(f"The column {column.name!r} is read-only.")
    if not editable_in_list(info, column) or not field.editable or field.widget == "file":
        raise BadRequest(NOT_IN_PLACE)


def _sent(field: FormField, form: Mapping[str, Any]) -> dict[str, Any]:
    """The posted `value` and `null` as the record form would have sent this field."""
    spec = field.spec
    value = form.get("value", "")
    sent: dict[str, Any] = {spec.name: value if isinstance(value, str) else ""}
    if form.get("null") == "1":
        if field.widget in ("bool", "enum", "select"):
            sent[spec.name] = spec.null_choice
        else:
            sent[spec.null_name] = "1"
    return sent


# --- answers ---------------------------------------------------------------------------------


def _field_document(field: FormField) -> dict[str, Any]:
    """The editor the script draws: the field's widget, text and choices."""
    spec = field.spec
    options: list[tuple[str, str]] = []
    if field.widget == "bool":
        options = [("1", "true"), ("0", "false")]
    elif field.widget == "enum":
        options = [(choice, choice) for choice in spec.choices]
    elif field.widget == "select":
        options = list(field.options)
    return {
        "column": field.name,
        "widget": field.widget,
        "text": field.text,
        "null": field.is_null,
        "nullable": spec.nullable,
        "null_choice": spec.null_choice,
        "options": options,
        "maxlength": spec.maxlength,
        "hint": spec.hint,
    }


async def _cell_document(
    conn: AsyncConnection,
    request: web.Request,
    info: TableInfo,
    position: int,
    row: Mapping[str, Any],
) -> dict[str, Any]:
    """The value as the table page shows it (a foreign key linked and labelled), the class
    of its cell, and the text the editor starts from next time."""
    column = info.columns[position]
    catalog: Catalog = request_catalog(request)
    value = row[column.name]
    cell = kind_for(column).show(value, preview=True)
    relation = info.relation_for(column.name)
    if relation is not None and all(row.get(name) is not None for name in relation.columns):
        cell = cell.linked(
            record_url(relation.target, [key_text(row[name]) for name in relation.columns])
        )
        labels = await load_labels(conn, catalog, relation, [value])
        cell = cell.labelled(labels.get(value))
    css = "null" if cell.kind == "null" else "" if cell.label is not None else cell_class(cell.kind)
    field = await column_field(conn, catalog, info, position, mode="edit", row=row)
    return {"html": str(cell_html(cell)), "class": css, "text": field.text, "null": value is None}


async def _changed(
    request: web.Request, info: TableInfo, position: int, current: Mapping[str, Any] | None
) -> web.Response:
    """409: the row changed since the editor opened (or went); nothing was written."""
    if current is None:
        return _answer(409, {"error": "This row was deleted since the page was shown."})
    name = info.columns[position].name
    cell = await _cell_document(await connection(request), request, info, position, current)
    return _answer(
        409,
        {
            "error": f"Someone changed this row since you began: {name} is now shown here.",
            "current": cell,
            "version": row_version(info, current),
        },
    )


def _refusal(exc: AppError) -> web.Response:
    return _answer(exc.status, {"error": exc.message})


def _answer(status: int, document: Mapping[str, Any]) -> web.Response:
    return web.Response(
        status=status, body=json_bytes(document), content_type="application/json", charset="utf-8"
    )
