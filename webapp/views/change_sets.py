"""Change set pages: the list of change sets (newest first, filtered like the activity
page), one change set with its rows (paged by entry id), and reverting a whole change set
in one click (confirmation page, POST, 409 listing the rows changed since with the choice
to revert only the unchanged ones)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from webapp.accounts.roles import (
    WRITE_ROLE,
    request_catalog,
    require_role,
    require_write,
)
from webapp.changes.audit import COMMITTED
from webapp.changes.change_sets import (
    change_set_by_id,
    change_set_entries,
    close_change_set,
    open_change_set,
)
from webapp.changes.revert import RevertRefused
from webapp.changes.revert_sets import ChangeSetConflict, revert_change_set
from webapp.changes.writes import write_transaction
from webapp.database.dialects import can_hold, equals, is_lock_conflict, is_schema_mismatch
from webapp.database.failures import is_unavailable
from webapp.schema.catalog import TableInfo
from webapp.values import key_text
from webapp.views.common import audit_log, audit_trail
from webapp.views.history import entry_view, name_references
from webapp.views.set_list import SETS_PAGE, change_set_view, set_href
from webapp.web.appkeys import DB_SESSION
from webapp.web.csrf import request_csrf_token
from webapp.web.errors import BadRequest, Conflict, LockBusy, NotFound
from webapp.web.flash import flash
from webapp.web.request_body import read_form
from webapp.web.urls import record_url

SETS_PAGE_SIZE = 50
SET_ROWS_PAGE_SIZE = 50


@aiohttp_jinja2.template("change_sets.html")
async def change_sets_page(request: web.Request) -> dict[str, Any]:
    """Every change set, newest first, by user and table; paged by id (`before`)."""
    query = request.query
    filters = {"user": query.get("user", "").strip(), "table": query.get("table", "")}
    before = _number(request.query["before"], "before") if request.query.get("before") else None
    audit = audit_log(request.app)
    sets = audit.sets_table
    statement = select(sets).order_by(sets.c.id.desc()).limit(SETS_PAGE_SIZE + 1)
    statement = statement.where(sets.c.table_name.in_(sorted(request_catalog(request).tables)))
    async with audit.reading(request[DB_SESSION]) as conn:
        for name, column in (("user", sets.c.username), ("table", sets.c.table_name)):
            if filters[name]:
                statement = statement.where(equals(column, filters[name], conn.dialect))
        if before is not None and can_hold(sets.c.id, before, conn.dialect):
            statement = statement.where(sets.c.id < before)
        rows = list((await conn.execute(statement)).all())
    shown = rows[:SETS_PAGE_SIZE]
    kept = {name: value for name, value in filters.items() if value}
    older_href = None
    if len(rows) > SETS_PAGE_SIZE:
        older_href = SETS_PAGE + "?" + urlencode({**kept, "before": shown[-1].id})
    return {
        "sets": [change_set_view(request, row) for row in shown],
        "filters": filters,
        "tables": sorted(request_catalog(request).tables),
        "older_href": older_href,
        "newest_href": (SETS_PAGE + "?" + urlencode(kept)) if before is not None else None,
    }


@aiohttp_jinja2.template("change_set.html")
async def change_set_page(request: web.Request) -> dict[str, Any]:
    """One change set and a page of its rows (`after`: the last entry id of the previous
    page)."""
    change_set, _ = await _visible_set(request)
    after = _number(request.query["after"], "after") if request.query.get("after") else None
    audit = audit_log(request.app)
    async with audit.reading(request[DB_SESSION]) as conn:
        if after is not None and not can_hold(audit.table.c.id, after, conn.dialect):
            after = None
        entries = await change_set_entries(
            conn, audit, change_set.id, after, SET_ROWS_PAGE_SIZE + 1
        )
    shown = entries[:SET_ROWS_PAGE_SIZE]
    next_href = None
    if len(entries) > SET_ROWS_PAGE_SIZE:
        next_href = set_href(change_set.id) + "?" + urlencode({"after": shown[-1].id})
    views = [entry_view(request, entry) for entry in shown]
    await name_references(request, views)
    return {
        "set": change_set_view(request, change_set),
        "entries": views,
        "next_href": next_href,
        "first_href": set_href(change_set.id) if after is not None else None,
    }


async def revert_set_form(request: web.Request) -> web.Response:
    change_set, _ = await _revertible_set(request)
    return aiohttp_jinja2.render_template(
        "revert_set.html",
        request,
        {
            "set": change_set_view(request, change_set),
            "csrf_token": await request_csrf_token(request),
        },
    )


async def revert_set(request: web.Request) -> web.Response:
    """Revert the whole change set as a new one; 409 (nothing written) when rows changed
    since, unless the form asked to revert only the unchanged rows."""
    change_set, info = await _revertible_set(request)
    form = await read_form(request)
    only_unchanged = form.get("only_unchanged") == "1"
    audit = audit_log(request.app)
    trail = audit_trail(request)
    try:
        async with write_transaction(request[DB_SESSION], trail) as conn:
            source = f"revert of change set {change_set.id}"
            if only_unchanged:
                source += " (only the rows unchanged since)"
            await open_change_set(conn, trail, "revert", info, source, reverts_id=change_set.id)

            async def read_entries(after_id: int | None, limit: int) -> Sequence[Any]:
                if audit.separate is None:
                    return await change_set_entries(conn, audit, change_set.id, after_id, limit)
                async with audit.separate() as session:
                    log_conn = await session.connection()
                    return await change_set_entries(log_conn, audit, change_set.id, after_id, limit)

            outcome = await revert_change_set(
                conn, info, read_entries, only_unchanged=only_unchanged
            )
            await close_change_set(conn, trail, outcome.reverted)
    except ChangeSetConflict as exc:
        return await _render_set_conflict(request, change_set, info, exc)
    except RevertRefused as exc:
        raise Conflict(str(exc)) from None
    except StatementError as exc:
        raise database_refusal(exc, "revert") from None
    new_id = trail.change_set_id
    message = f"Change set {change_set.id} reverted: {outcome.reverted:,} rows"
    if outcome.skipped:
        message += f"; {outcome.skipped:,} rows that changed since were left as they are"
    await flash(request, message + ".")
    raise web.HTTPSeeOther(set_href(new_id) if new_id is not None else SETS_PAGE)


def database_refusal(exc: StatementError, what: str) -> Exception:
    """The error page for a database error in a bulk write: a lock conflict or deadlock is
    worth retrying (503), an unreachable database or changed schema goes to the error
    middleware as it is, anything else is the database refusing the change (409)."""
    if is_lock_conflict(exc):
        return LockBusy(
            f"Other changes held some of these rows, so the {what} was stopped and nothing "
            "was changed. Try again in a moment."
        )
    if is_unavailable(exc) or is_schema_mismatch(exc):
        return exc
    detail = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    return Conflict(
        f"The database refused the {what}, so nothing was changed: "
        + (detail[0][:300] if detail else "")
    )


async def _render_set_conflict(
    request: web.Request, change_set: Any, info: TableInfo, exc: ChangeSetConflict
) -> web.Response:
    outcome = exc.outcome
    rows = [
        {
            "key": ", ".join(key_text(value) for value in conflict.key),
            "href": record_url(info.name, [key_text(value) for value in conflict.key]),
            "reason": conflict.reason,
            "entry_id": conflict.entry.id,
        }
        for conflict in outcome.conflicts
    ]
    response = aiohttp_jinja2.render_template(
        "revert_set_conflict.html",
        request,
        {
            "set": change_set_view(request, change_set),
            "rows": rows,
            "changed": outcome.skipped,
            "unchanged": outcome.unchanged,
            "csrf_token": await request_csrf_token(request),
        },
    )
    response.set_status(409)
    return response


async def _visible_set(request: web.Request) -> tuple[Any, TableInfo]:
    """The change set the URL names, if its table is one the role may see (404 otherwise,
    as for a change set that does not exist)."""
    set_id = _number(request.match_info["set"], "change set")
    audit = audit_log(request.app)
    async with audit.reading(request[DB_SESSION]) as conn:
        change_set = await change_set_by_id(conn, audit, set_id)
    if change_set is None:
        raise NotFound("There is no such change set.")
    info = request_catalog(request).tables.get(change_set.table_name)
    if info is None:
        raise NotFound("There is no such change set.")
    return change_set, info


async def _revertible_set(request: web.Request) -> tuple[Any, TableInfo]:
    """The change set, if the user may revert it: 403 without write permission, 409 if it
    is not known to be committed."""
    require_role(request, WRITE_ROLE)
    change_set, info = await _visible_set(request)
    require_write(request, info)
    if change_set.state != COMMITTED:
        raise Conflict(
            "This change set is not known to have been committed (it is "
            f"{change_set.state}), so it cannot be reverted."
        )
    return change_set, info


def _number(text: str | None, name: str) -> int:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadRequest(f"{name} must be a number, not {str(text)[:40]!r}.")
    return int(text)
