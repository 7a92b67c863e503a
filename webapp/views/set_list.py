"""The change sets as the activity pages list them: one line each (who, when, what, how
many rows, where from, whether the user may revert it), shared by the activity page and the
change set pages."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from webapp.accounts.roles import request_catalog, write_refusal
from webapp.changes.audit import COMMITTED
from webapp.database.dialects import equals
from webapp.views.common import audit_log
from webapp.web.appkeys import DB_SESSION
from webapp.web.urls import table_url

SETS_PAGE = "/activity/sets"
RECENT_SETS = 10


def set_href(set_id: int) -> str:
    return f"{SETS_PAGE}/{set_id}"


def change_set_view(request: web.Request, change_set: Any) -> dict[str, Any]:
    """What the pages show of one change set: who, when, what, how many rows, where they
    came from, and where to revert it (if the user may)."""
    info = request_catalog(request).tables.get(change_set.table_name)
    may_revert = (
        info is not None
        and change_set.state == COMMITTED
        and change_set.row_count > 0
        and write_refusal(request, info) is None
    )
    return {
        "id": change_set.id,
        "href": set_href(change_set.id),
        "at": change_set.at.isoformat(sep=" ", timespec="seconds"),
        "moment": change_set.at,
        "username": change_set.username,
        "action": change_set.action,
        "table": change_set.table_name,
        "table_href": table_url(info.name) if info is not None else None,
        "row_count": change_set.row_count,
        "source": change_set.source,
        "reverts_id": change_set.reverts_id,
        "reverts_href": set_href(change_set.reverts_id) if change_set.reverts_id else None,
        "state": change_set.state,
        "revert_href": set_href(change_set.id) + "/revert" if may_revert else None,
    }


async def recent_change_sets(
    request: web.Request, filters: dict[str, str], limit: int = RECENT_SETS
) -> list[dict[str, Any]]:
    """The newest change sets the activity page's user and table filters allow."""
    audit = audit_log(request.app)
    sets = audit.sets_table
    statement = select(sets).order_by(sets.c.id.desc()).limit(limit)
    statement = statement.where(sets.c.table_name.in_(sorted(request_catalog(request).tables)))
    async with audit.reading(request[DB_SESSION]) as conn:
        for name, column in (("user", sets.c.username), ("table", sets.c.table_name)):
            if filters.get(name):
                statement = statement.where(equals(column, filters[name], conn.dialect))
        rows = list((await conn.execute(statement)).all())
    return [change_set_view(request, row) for row in rows]
