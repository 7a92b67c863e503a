"""`/api/activity` and `/api/t/<table>/r/<key>/history`: the changes the activity page and
a record's history list, with their values typed by column (a column the role does not see
is left out, as on the pages)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from webapp.accounts.roles import request_catalog
from webapp.api.documents import json_response
from webapp.values import kind_for
from webapp.views.history import ACTIVITY_PAGE, activity_view, record_history
from webapp.views.record import load_record
from webapp.web.urls import record_url


async def api_activity(request: web.Request) -> web.Response:
    view = await activity_view(request)
    older = view["older_href"]
    newest = view["newest_href"]
    return json_response(
        {
            "entries": [entry_document(request, entry) for entry in view["entries"]],
            "links": {
                "older": "/api" + older if older else None,
                "newest": "/api" + newest if newest else None,
                "html": ACTIVITY_PAGE,
            },
        }
    )


async def api_history(request: web.Request) -> web.Response:
    info, parts, row = await load_record(request)
    history = await record_history(request, info, row)
    more = history["more_href"]
    return json_response(
        {
            "table": info.name,
            "key": parts,
            "entries": [entry_document(request, entry) for entry in history["entries"]],
            "links": {
                "record": "/api" + record_url(info.name, parts),
                "more": "/api" + more if more else None,
            },
        }
    )


def entry_document(request: web.Request, view: dict[str, Any]) -> dict[str, Any]:
    """One change (history.entry_view's) with its before and after values typed by their
    columns' kinds."""
    info = request_catalog(request).tables.get(view["table"])
    columns = {column.name: column for column in info.columns} if info is not None else {}
    changes = []
    for change in view["changes"]:
        column = columns.get(change["column"])
        if column is None:
            continue
        kind = kind_for(column)
        before, after = change["values"]
        changes.append(
            {
                "column": change["column"],
                "before": kind.api_value(before) if change["before"] is not None else None,
                "after": kind.api_value(after) if change["after"] is not None else None,
            }
        )
    record = view["record_href"]
    return {
        "id": view["id"],
        "at": view["at"],
        "username": view["username"],
        "action": view["action"],
        "table": view["table"],
        "key": view["key"],
        "state": view["state"],
        "reverts": view["reverts_id"],
        "reverted_by": view["reverted_by"],
        "change_set": view["change_set_id"],
        "changes": changes,
        "record": "/api" + record if record else None,
    }
