"""The foreign-key picker's endpoint: rows of a table too large for a select, found by key or
by any part of their label while the user types (static/edit.js). It reads only what the
table page would show the same user, so it needs no write permission."""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.accounts.roles import request_catalog
from webapp.changes.forms import option_label
from webapp.changes.inputs import FieldError, input_spec, input_text, parse_input
from webapp.database.dialects import equals
from webapp.schema.labels import label_contains, row_label
from webapp.views.common import connection, request_role, session_dialect
from webapp.web.appkeys import EXPENSIVE_QUERIES
from webapp.web.errors import NotFound

LOOKUP_LIMIT = 20
QUERY_CHARS = 200


async def lookup(request: web.Request) -> web.Response:
    """JSON for the foreign-key picker: rows of this table whose key is the query or whose
    label holds it anywhere, as [{key, label}] (the label shows both)."""
    info = request_catalog(request).by_slug(request.match_info["table"])
    if len(info.primary_key) != 1:
        raise NotFound(f"{info.name!r} has no single-column primary key to pick by.")
    query = request.query.get("q", "")[:QUERY_CHARS]
    key_column = info.primary_key[0]
    label = row_label(info.label_columns).label("label") if info.label_columns else None
    selected = [key_column, *([label] if label is not None else [])]
    statement = select(*selected).limit(LOOKUP_LIMIT)
    order: list[Any] = [key_column]
    if query:
        matches = []
        dialect = session_dialect(request)
        spec = input_spec(key_column, 0, dialect)
        with contextlib.suppress(FieldError):
            key_match = equals(key_column, parse_input(spec, query, dialect), dialect)
            matches.append(key_match)
            order.insert(0, case((key_match, 0), else_=1))  # the row with that key first
        if info.label_columns:
            matches.append(label_contains(info.label_columns, query, dialect))
        if not matches:
            return web.json_response([])
        statement = statement.where(matches[0] if len(matches) == 1 else matches[0] | matches[1])
    statement = statement.order_by(*order)

    async def fetch(conn: AsyncConnection) -> list[Any]:
        return list((await conn.execute(statement)).all())

    if query and label is not None:  # a label search no index may serve: an expensive kind
        key = ("lookup", request_role(request), info.name, query)
        rows = await request.app[EXPENSIVE_QUERIES].run(key, fetch)
    else:
        rows = await fetch(await connection(request))
    return web.json_response(
        [
            {
                "key": input_text(values[0]),
                "label": option_label(values[0], values[1] if label is not None else None),
            }
            for values in rows
        ]
    )
