"""Bulk actions on the table page: delete the chosen rows (or every row the view finds), set
one column to one value on them, or download them. For a change, GET shows the confirmation
(exactly what will happen, counted, and what will block it) and POST makes the change as one
change set (webapp.changes.bulk_writes) and goes to it. The write gate, the column rules and
the value parsing are the single-record form's own; a download goes through the table
download's machinery (webapp.views.export)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import and_, func, select, true
from sqlalchemy.exc import StatementError

from webapp.accounts.roles import request_catalog, require_write
from webapp.changes.audit_values import dump_key
from webapp.changes.bulk_writes import (
    Selection,
    SelectionChanged,
    TooManyRows,
    delete_rows,
    keys_condition,
    read_rows,
    set_values,
)
from webapp.changes.change_sets import close_change_set, open_change_set
from webapp.changes.forms import OMIT, form_field
from webapp.changes.inputs import FieldError, input_spec
from webapp.changes.writes import row_version, write_transaction
from webapp.listing.exports import export_plan
from webapp.listing.queries import key_condition
from webapp.listing.table_state import TableState, parse_table_state
from webapp.schema.catalog import TableInfo
from webapp.values import key_text, kind_for
from webapp.views.change_sets import database_refusal
from webapp.views.common import audit_trail, connection, request_dialect, session_dialect
from webapp.views.export import download
from webapp.views.set_list import set_href
from webapp.views.table import view_conditions
from webapp.web.appkeys import DB_SESSION, SETTINGS
from webapp.web.csrf import request_csrf_token
from webapp.web.errors import BadRequest, Forbidden
from webapp.web.flash import flash
from webapp.web.request_body import read_form
from webapp.web.urls import UrlDecodeError, key_from_segment

ACTIONS = ("delete", "set")
SCOPES = ("chosen", "all")
SHOWN_KEYS = 20


@dataclass
class BulkRequest:
    """What a bulk form asks: the action, which rows, and for `set` the column and value."""

    info: TableInfo
    state: TableState
    action: str
    scope: str
    key_parts: list[list[str]]
    column: str | None
    value: Any
    value_text: str
    value_null: bool

    def describe(self, count: int) -> str:
        rows = f"{count:,} row{'' if count == 1 else 's'} of {self.info.name}"
        if self.action == "delete":
            return f"Delete {rows}"
        shown = "NULL" if self.value is None else self.value_text
        return f"Set {self.column} = {shown} on {rows}"

    def source(self) -> str:
        """Where the rows came from, for the change set's entry."""
        if self.scope == "chosen":
            keys = ["/".join(parts) for parts in self.key_parts]
            more = f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
            return "chosen rows " + ", ".join(keys[:SHOWN_KEYS]) + more
        conditions = [item.description for item in self.state.filters]
        if self.state.search:
            conditions.append(f"search {self.state.search!r}")
        return "every row where " + " and ".join(conditions) if conditions else "every row"


async def bulk_form(request: web.Request) -> web.Response:
    """The confirmation page: the exact count, the sentence of what will happen, what will
    block it; or the form's error."""
    bulk = _bulk_request(request, request.query)
    conn = await connection(request)
    limit = request.app[SETTINGS].bulk_max_rows
    versions: list[tuple[str, str]] = []
    missing: list[str] = []
    if bulk.scope == "all":
        where = and_(true(), *view_conditions(bulk.state, session_dialect(request))[0])
        count = int(
            await conn.scalar(select(func.count()).select_from(bulk.info.table).where(where)) or 0
        )
        if count > limit:
            raise BadRequest(
                f"This view finds {count:,} rows; a bulk change may touch at most {limit:,}. "
                "Narrow the view with a search or filters, then try again."
            )
    else:
        keys = _keys(bulk)
        rows = await read_rows(conn, bulk.info, keys_condition(bulk.info, keys), lock=False)
        found = {dump_key(_row_key(bulk.info, row)): row for row in rows}
        for parts, key in zip(bulk.key_parts, keys, strict=True):
            row = found.get(dump_key(key))
            if row is None:
                missing.append("/".join(parts))
            else:
                versions.append(("/".join(parts), row_version(bulk.info, row)))
        count = len(versions)
        where = keys_condition(bulk.info, keys)
    blockers = await _blockers(request, bulk, where) if bulk.action == "delete" else []
    context = {
        "info": bulk.info,
        "bulk": bulk,
        "sentence": bulk.describe(count),
        "count": count,
        "source": bulk.source(),
        "blockers": blockers,
        "missing": missing,
        "versions": versions,
        "view_inputs": bulk.state.hidden_inputs(),
        "csrf_token": await request_csrf_token(request),
        "table_href": bulk.state.href(),
        "post_href": request.path,
    }
    return aiohttp_jinja2.render_template("bulk_confirm.html", request, context)


async def bulk_change(request: web.Request) -> web.Response:
    """Make the confirmed change as one change set; 409 when the rows are not the ones the
    confirmation showed (nothing written)."""
    form = await read_form(request)
    bulk = _bulk_request(request, form)
    limit = request.app[SETTINGS].bulk_max_rows
    if bulk.scope == "all":
        expected = _count(form.get("expected"))
        where = tuple(view_conditions(bulk.state, session_dialect(request))[0])
        selection = Selection(where=where, expected=expected, limit=limit)
    else:
        keys = _keys(bulk)
        seen = form.getall("version", [])
        if len(seen) != len(keys):
            raise BadRequest("Each chosen row needs the version the confirmation showed.")
        versions = {dump_key(key): str(v) for key, v in zip(keys, seen, strict=True)}
        selection = Selection(keys=tuple(keys), versions=versions, expected=len(keys), limit=limit)
    trail = audit_trail(request)
    try:
        async with write_transaction(request[DB_SESSION], trail) as conn:
            await open_change_set(conn, trail, bulk.action, bulk.info, bulk.source())
            if bulk.action == "delete":
                count = await delete_rows(conn, bulk.info, selection)
            else:
                assert bulk.column is not None
                count = await set_values(conn, bulk.info, selection, {bulk.column: bulk.value})
            await close_change_set(conn, trail, count)
    except SelectionChanged as exc:
        return _render_changed(request, bulk, exc)
    except TooManyRows as exc:
        raise BadRequest(
            f"This view finds more than {exc.limit:,} rows, the most a bulk change may touch. "
            "Narrow the view with a search or filters, then try again."
        ) from None
    except StatementError as exc:
        raise database_refusal(exc, "bulk change") from None
    await flash(request, bulk.describe(count).replace("Delete", "Deleted", 1) + ": done.")
    raise web.HTTPSeeOther(set_href(trail.change_set_id) if trail.change_set_id else "/")


async def export_selection(request: web.Request) -> web.StreamResponse:
    """Download the rows chosen on the table page, or every row its view finds, as CSV or
    JSON: the table download's columns, values, order and streaming. A read, so anyone who
    sees the table may ask (the page offers it with the other bulk actions, to those who get
    the checkboxes; everyone has the download of the whole view below the rows)."""
    format_name = request.match_info["format"]
    info = request_catalog(request).by_slug(request.match_info["table"])
    params = request.query
    state = parse_table_state(info, params, request.app[SETTINGS])
    scope = str(params.get("scope", "chosen"))
    if scope not in SCOPES:
        raise BadRequest(f"scope must be one of {', '.join(SCOPES)}.")
    dialect = request_dialect(request)
    if scope == "all":
        where = view_conditions(state, dialect)[0]
    else:
        if not info.primary_key:
            raise BadRequest(f"{info.name} has no primary key, so rows cannot be chosen.")
        keys = _key_values(info, _chosen_key_parts(request, params))
        where = [keys_condition(info, keys)]
    plan = export_plan(info, dialect, state.sort, where, state.columns)
    return await download(request, plan, format_name, f"{info.name}-selection.{format_name}")


# --- what a request asks ----------------------------------------------------------------------


def _bulk_request(request: web.Request, params: MultiMapping[Any]) -> BulkRequest:
    info = request_catalog(request).by_slug(request.match_info["table"])
    require_write(request, info)
    state = parse_table_state(info, params, request.app[SETTINGS])
    action = str(params.get("action", ""))
    if action not in ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(ACTIONS)}.")
    scope = str(params.get("scope", "chosen"))
    if scope not in SCOPES:
        raise BadRequest(f"scope must be one of {', '.join(SCOPES)}.")
    key_parts = _chosen_key_parts(request, params) if scope == "chosen" else []
    bulk = BulkRequest(info, state, action, scope, key_parts, None, None, "", False)
    if action == "set":
        _parse_value(request, bulk, params)
    return bulk


def _chosen_key_parts(request: web.Request, params: MultiMapping[Any]) -> list[list[str]]:
    """The keys of the rows ticked on the page, as text parts (at most a page's worth)."""
    key_parts: list[list[str]] = []
    for segment in params.getall("key", []):
        try:
            key_parts.append(key_from_segment(str(segment)))
        except UrlDecodeError:
            raise BadRequest("A chosen row's key does not decode.") from None
    if not key_parts:
        raise BadRequest(
            "Choose some rows first (tick their boxes), or choose every row the view finds."
        )
    if len(key_parts) > request.app[SETTINGS].max_page_size:
        raise BadRequest("Too many rows chosen one by one: choose every row the view finds.")
    return key_parts


def _parse_value(request: web.Request, bulk: BulkRequest, params: MultiMapping[Any]) -> None:
    """The column and value of a `set`, parsed as the edit form parses the column's field."""
    info = bulk.info
    name = str(params.get("column", ""))
    positions = {column.name: i for i, column in enumerate(info.columns)}
    if name not in positions:
        raise BadRequest("Choose the column to set.")
    column = info.columns[positions[name]]
    if column.primary_key:
        raise BadRequest(f"The key column {name!r} cannot be set on many rows at once.")
    if name in info.read_only_columns:
        raise Forbidden(f"The column {name!r} is read-only.")
    dialect = session_dialect(request)
    spec = input_spec(column, positions[name], dialect)
    field = form_field(spec, info, "edit", row=None)
    if not field.editable or field.widget == "file":
        raise BadRequest(f"The column {name!r} cannot be set here.")
    text = str(params.get("value", ""))
    null = params.get("value_null") == "1"
    sent = {spec.name: spec.null_choice if null and spec.null_choice else text}
    if null:
        sent[spec.null_name] = "1"
    field.take_input(sent)
    try:
        value = field.value(dialect, "edit")
    except FieldError as exc:
        raise BadRequest(f"{name}: {exc}") from None
    if value is OMIT:
        raise BadRequest(f"The column {name!r} cannot be set here.")
    if null and value is not None:
        raise BadRequest(f"{name}: this column cannot be NULL.")
    bulk.column, bulk.value, bulk.value_text, bulk.value_null = name, value, text, value is None


def _keys(bulk: BulkRequest) -> list[tuple[Any, ...]]:
    return _key_values(bulk.info, bulk.key_parts)


def _key_values(info: TableInfo, key_parts: list[list[str]]) -> list[tuple[Any, ...]]:
    """The chosen rows' keys as values (a key that could not exist is a 404)."""
    columns = info.primary_key
    keys = []
    for parts in key_parts:
        key_condition(info, parts)  # a 404 for a key no row could have
        keys.append(
            tuple(kind_for(c).parse_key(part) for c, part in zip(columns, parts, strict=True))
        )
    return keys


def _row_key(info: TableInfo, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[column.name] for column in info.primary_key)


def _count(text: Any) -> int:
    if not isinstance(text, str) or not text.isdigit() or len(text) > 12:
        raise BadRequest("The confirmed count is missing; open the confirmation again.")
    return int(text)


async def _blockers(request: web.Request, bulk: BulkRequest, where: Any) -> list[str]:
    """What will stop a delete: rows of other tables that refer to the chosen rows."""
    catalog = request_catalog(request)
    conn = await connection(request)
    info = bulk.info
    found = []
    for relation in info.incoming:
        child = catalog.tables.get(relation.table)
        if child is None or len(relation.columns) != 1:
            continue
        target = info.table.c[relation.target_columns[0]]
        referred = select(target).where(where)
        statement = (
            select(func.count())
            .select_from(child.table)
            .where(child.table.c[relation.columns[0]].in_(referred))
        )
        count = int(await conn.scalar(statement) or 0)
        if count:
            found.append(
                f"{count:,} row{'' if count == 1 else 's'} of {relation.table} "
                f"(via {relation.columns[0]}) refer to these rows: the database will refuse "
                "the delete unless it removes or changes them itself."
            )
    return found


def _render_changed(request: web.Request, bulk: BulkRequest, exc: SelectionChanged) -> web.Response:
    if exc.keys:
        shown = [", ".join(key_text(value) for value in key) for key in exc.keys[:SHOWN_KEYS]]
        reason = (
            f"{len(exc.keys):,} of the chosen rows changed or went since the confirmation "
            f"was shown: {'; '.join(shown)}."
        )
    else:
        reason = (
            f"The view now finds {exc.found:,} rows, not the {exc.expected:,} the "
            "confirmation counted."
        )
    response = aiohttp_jinja2.render_template(
        "error.html",
        request,
        {
            "status": 409,
            "title": "The rows changed",
            "message": reason + " Nothing was changed; open the confirmation again.",
        },
    )
    response.set_status(409)
    return response
