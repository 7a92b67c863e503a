"""`/api/t/<table>/r/<key>`: one record (its values, the rows that reference it, links),
changed with PATCH and DELETE and created with POST on the table, through the forms' write
gate, column rules, parsing, audited write path and lost-update check. The row's version
(the digest the forms carry) is its `ETag`; a change must send it as `If-Match` (428
without it, 412 with the row as it is now when it no longer matches)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.exc import StatementError

from webapp.accounts.roles import request_catalog, require_write
from webapp.api.bodies import (
    body_values,
    field_errors,
    invalid_message,
    read_object,
    record_fields,
)
from webapp.api.documents import (
    api_record_url,
    api_table_url,
    count_document,
    json_response,
    key_parts,
    record_values,
)
from webapp.changes.forms import FormField
from webapp.changes.refusals import explain_on_form, is_refusal, referenced_message
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
from webapp.values import key_text
from webapp.views.common import audit_trail, connection, session_dialect
from webapp.views.edit import record_form_limit
from webapp.views.record import load_record, record_key, referencing_rows
from webapp.web.appkeys import DB_SESSION
from webapp.web.errors import (
    BadRequest,
    Conflict,
    NoSuchRecord,
    PreconditionFailed,
    PreconditionRequired,
)
from webapp.web.request_body import body_limit
from webapp.web.urls import record_url


async def api_record(request: web.Request) -> web.Response:
    info, parts, row = await load_record(request)
    conn = await connection(request)
    catalog = request_catalog(request)
    referenced_by = []
    for relation in info.incoming:
        found = await referencing_rows(conn, catalog, relation, row, samples=False)
        filters = [
            (f"{column}__exact", key_text(row[target]))
            for column, target in zip(relation.columns, relation.target_columns, strict=True)
        ]
        referenced_by.append(
            {
                "table": found["table"],
                "columns": list(relation.columns),
                "count": count_document(found["count"]),
                "href": api_table_url(found["table"], filters),
            }
        )
    document = record_document(info, parts, row)
    document["referenced_by"] = referenced_by
    return json_response(document, headers={"ETag": etag(info, row)})


@body_limit(record_form_limit)
async def api_create(request: web.Request) -> web.Response:
    info = request_catalog(request).by_slug(request.match_info["table"])
    require_write(request, info)
    body = await read_object(request)
    dialect = session_dialect(request)
    fields = record_fields(info, dialect, "create", None)
    values = body_values(fields, body, dialect, "create")
    try:
        async with write_transaction(request[DB_SESSION], audit_trail(request)) as conn:
            result = await insert_row(conn, info, values)
    except StatementError as exc:
        raise _refused(request, info, fields, exc) from None
    after = result.after
    if after is None:  # no primary key to read the row back by
        return json_response({"table": info.name, "values": None}, status=201)
    parts = key_parts(info, after)
    headers = {"ETag": etag(info, after), "Location": api_record_url(info.name, parts)}
    return json_response(record_document(info, parts, after), status=201, headers=headers)


@body_limit(record_form_limit)
async def api_update(request: web.Request) -> web.Response:
    info, parts, condition = _writable_record(request)
    sent = if_match(request)
    body = await read_object(request)
    current = await read_row(await connection(request), info, condition, lock=False)
    if current is None:
        raise NoSuchRecord()
    dialect = session_dialect(request)
    fields = record_fields(info, dialect, "edit", current)
    values = body_values(fields, body, dialect, "edit")
    version = row_version(info, current) if sent == "*" else sent
    try:
        async with write_transaction(request[DB_SESSION], audit_trail(request)) as conn:
            result = await update_row(conn, info, condition, version, values, exact=True)
    except RowChanged as exc:
        raise _changed(info, exc) from None
    except StatementError as exc:
        raise _refused(request, info, fields, exc) from None
    after = result.after or current
    return json_response(record_document(info, parts, after), headers={"ETag": etag(info, after)})


async def api_delete(request: web.Request) -> web.Response:
    info, _, condition = _writable_record(request)
    sent = if_match(request)
    conn = await connection(request)
    current = await read_row(conn, info, condition, lock=False)
    if current is None:
        raise NoSuchRecord()
    version = row_version(info, current) if sent == "*" else sent
    try:
        async with write_transaction(request[DB_SESSION], audit_trail(request)) as conn:
            await delete_row(conn, info, condition, version)
    except RowChanged as exc:
        raise _changed(info, exc) from None
    except StatementError as exc:
        if not is_refusal(exc):
            raise
        conn = await connection(request)
        message = await referenced_message(conn, request_catalog(request), info, current)
        raise Conflict(message or "The database refused to delete this record.") from None
    return web.Response(status=204)


def record_document(info: TableInfo, parts: list[str], row: Mapping[str, Any]) -> dict[str, Any]:
    href = api_record_url(info.name, parts)
    return {
        "table": info.name,
        "key": parts,
        "values": record_values(info, row),
        "links": {
            "self": href,
            "history": href + "/history",
            "table": api_table_url(info.name),
            "html": record_url(info.name, parts),
        },
    }


def etag(info: TableInfo, row: Mapping[str, Any]) -> str:
    """The row's version (webapp.changes.writes.row_version) as a strong entity tag."""
    return f'"{row_version(info, row)}"'


def if_match(request: web.Request) -> str:
    """The row version a change was made against (`*`: whatever the row holds now); 428
    when the request does not say."""
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        raise PreconditionRequired(
            "Send If-Match with the ETag of the record as you read it (GET it first), "
            "so that a change made since is not overwritten."
        )
    tag = header.strip()
    if tag == "*":
        return tag
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"')


def _writable_record(request: web.Request) -> tuple[TableInfo, list[str], Any]:
    info = request_catalog(request).by_slug(request.match_info["table"])
    require_write(request, info)
    parts = record_key(request)
    return info, parts, key_condition(info, parts, session_dialect(request))


def _changed(info: TableInfo, exc: RowChanged) -> Exception:
    """412 with the row as it is now, or 404 when it is gone. Nothing was written."""
    if exc.current is None:
        return NoSuchRecord()
    return PreconditionFailed(
        "The record changed since it was read; nothing was written. The current values "
        "and their ETag are in this answer.",
        {"current": record_values(info, exc.current), "etag": etag(info, exc.current)},
    )


def _refused(
    request: web.Request, info: TableInfo, fields: list[FormField], exc: StatementError
) -> Exception:
    """A database refusal (a unique key, a foreign key, NOT NULL...) as a 400 naming the
    field it concerns when it names one; anything else is raised again."""
    hidden = hidden_names(info, request_catalog(request))
    message = explain_on_form(exc, info, fields, hidden)
    errors = field_errors(fields)
    if message is not None:
        return BadRequest(message, {"errors": errors})
    return BadRequest(invalid_message(errors) + " " + errors[0]["message"], {"errors": errors})
