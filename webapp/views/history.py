"""History pages: a record's own changes (a part of the record page), the activity page of
every change with filters, and reverting one change (confirmation page, POST, 409 when the
row moved on). `entry_view` is the one place an entry's values are turned into cells, so a
later per-column rule can hide values there for every page at once."""

from __future__ import annotations

import datetime as dt
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
    write_refusal,
)
from webapp.changes.audit import ACTIONS, COMMITTED, entry_by_id, record_entries, reverted_by
from webapp.changes.audit_values import load_key, load_row
from webapp.changes.revert import RevertConflict, RevertRefused, revert_change
from webapp.changes.writes import write_transaction
from webapp.database.dialects import can_hold, equals, is_schema_mismatch
from webapp.database.failures import is_unavailable
from webapp.schema.catalog import TableInfo
from webapp.schema.labels import load_labels
from webapp.values import Cell, key_text, kind_for, show_value
from webapp.views.common import audit_log, audit_trail, connection
from webapp.views.set_list import recent_change_sets
from webapp.web.appkeys import DB_SESSION
from webapp.web.csrf import request_csrf_token
from webapp.web.errors import BadRequest, Conflict, NotFound
from webapp.web.flash import flash
from webapp.web.urls import record_url, table_url

ACTIVITY_PAGE = "/activity"
RECORD_HISTORY_LIMIT = 20
ACTIVITY_PAGE_SIZE = 50


# --- one entry, ready for a template ---------------------------------------------------------


async def entry_views(request: web.Request, entries: Sequence[Any]) -> list[dict[str, Any]]:
    """`entry_view` of each entry, knowing which of them were reverted since."""
    audit = audit_log(request.app)
    async with audit.reading(request[DB_SESSION]) as conn:
        reverted = await reverted_by(conn, audit, entries)
    views = [entry_view(request, entry, reverted.get(entry.id)) for entry in entries]
    await name_references(request, views)
    return views


async def name_references(request: web.Request, views: Sequence[dict[str, Any]]) -> None:
    """Link the foreign-key values of the entries' changes to the rows they refer to, named
    by those rows' labels (one query per relation for the whole page, as the table page's
    other pages do), so a history never shows a bare key where a name exists."""
    catalog = request_catalog(request)
    wanted: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for view in views:
        info = catalog.tables.get(view["table"])
        for change in view["changes"] if info is not None else ():
            relation = info.relation_for(change["column"]) if info is not None else None
            if relation is not None and len(relation.columns) == 1:
                wanted.setdefault((view["table"], change["column"]), []).append(change)
    if not wanted:
        return
    conn = await connection(request)
    for (table, column), changes in wanted.items():
        relation = catalog.tables[table].relation_for(column)
        target = catalog.tables.get(relation.target) if relation is not None else None
        if relation is None or target is None:
            continue
        key_column = target.table.columns[relation.target_columns[0]]
        kind = kind_for(key_column)
        values = [
            value
            for change in changes
            for value in change["values"]
            if value is not None and kind.fits(value)
        ]
        labels = await load_labels(conn, catalog, relation, values)
        for change in changes:
            for side, value in zip(("before", "after"), change["values"], strict=True):
                if change[side] is None or value is None or not kind.fits(value):
                    continue
                href = record_url(relation.target, [key_text(value)])
                change[side] = change[side].linked(href).labelled(labels.get(value))


def entry_view(
    request: web.Request, entry: Any, reverted_by_id: int | None = None
) -> dict[str, Any]:
    """What the history templates show of one entry: who, when, what, the changed columns
    as before -> after cells, where the record is, and where to revert it (if allowed and
    not reverted already, by `reverted_by_id`)."""
    info = request_catalog(request).tables.get(entry.table_name)
    visible = {column.name for column in info.columns} if info is not None else set()
    # Entries keep every column of the row; a role sees only the columns it may see, and
    # may revert only a change whose columns it may all change.
    whole_before = load_row(entry.old_values) or {}
    whole_after = load_row(entry.new_values) or {}
    before = {k: v for k, v in whole_before.items() if k in visible}
    after = {k: v for k, v in whole_after.items() if k in visible}
    touched = set(whole_after) if entry.action == "update" else set(whole_before | whole_after)
    key = load_key(entry.row_key)
    key_parts = [key_text(value) for value in key]
    columns = list(after or before) if entry.action != "update" else list(after)
    changes = [
        {
            "column": name,
            "before": _cell(before[name]) if name in before else None,
            "after": _cell(after[name]) if name in after else None,
            # The values themselves, for the JSON API (which types them by column).
            "values": (before.get(name), after.get(name)),
        }
        for name in columns
    ]
    may_revert = (
        info is not None
        and entry.state == COMMITTED
        and reverted_by_id is None
        and revert_allowed(request, info, entry.action, touched)
    )
    return {
        "id": entry.id,
        "at": entry.at.isoformat(sep=" ", timespec="seconds"),
        "moment": entry.at,  # the pages say it relative to now (web/relative_time.py)
        "username": entry.username,
        "action": entry.action,
        "table": entry.table_name,
        "key": ", ".join(key_parts),
        "record_href": record_url(info.name, key_parts) if info is not None else None,
        "changes": changes,
        "state": entry.state,
        "reverts_id": entry.reverts_id,
        "reverted_by": reverted_by_id,
        "change_set_id": entry.change_set_id,
        "revert_href": revert_href(request, entry.id) if may_revert else None,
    }


def revert_allowed(request: web.Request, info: TableInfo, action: str, touched: set[str]) -> bool:
    """Whether the user may revert a change of `action` to the columns `touched` of `info`
    (every column a revert would write must be one the user may change)."""
    changeable = {column.name for column in info.columns} - set(info.read_only_columns)
    return write_refusal(request, info) is None and (action == "create" or touched <= changeable)


def revert_href(request: web.Request, entry_id: int) -> str:
    """The confirmation page that reverts change `entry_id` (the Undo of a flash, too)."""
    return str(request.app.router["revert"].url_for(entry=str(entry_id)))


def _cell(value: Any) -> Cell:
    return show_value(value, preview=True)


# --- the record page's part ------------------------------------------------------------------


async def record_history(
    request: web.Request, info: TableInfo, row: dict[str, Any], *, known_empty: bool = False
) -> dict[str, Any]:
    """The newest changes of the record `row` for record.html's history part; none looked
    up when the caller already knows there are none (`known_empty`)."""
    key = [row[column.name] for column in info.primary_key]
    entries = []
    if key and not known_empty:
        audit = audit_log(request.app)
        async with audit.reading(request[DB_SESSION]) as conn:
            entries = await record_entries(conn, audit, info, key, RECORD_HISTORY_LIMIT + 1)
    return {
        "entries": await entry_views(request, entries[:RECORD_HISTORY_LIMIT]),
        "more_href": (
            ACTIVITY_PAGE + "?" + urlencode({"table": info.name})
            if len(entries) > RECORD_HISTORY_LIMIT
            else None
        ),
    }


# --- the activity page -----------------------------------------------------------------------


@aiohttp_jinja2.template("activity.html")
async def activity_page(request: web.Request) -> dict[str, Any]:
    return await activity_view(request)


async def activity_view(request: web.Request) -> dict[str, Any]:
    """Every change, newest first, filtered by user, table, action and time; paged by entry
    id (`before`), so a deep page costs what the first does. The activity page and its
    JSON twin show it."""
    query = request.query
    filters = {name: query.get(name, "").strip() for name in ("user", "action")}
    # A table's name may begin or end with spaces: it is matched as given.
    filters["table"] = query.get("table", "")
    since_text, until_text = query.get("since", "").strip(), query.get("until", "").strip()
    if filters["action"] and filters["action"] not in ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(ACTIONS)}, not {filters['action']!r}.")
    since = _moment(since_text, "since", end_of_day=False)
    until = _moment(until_text, "until", end_of_day=True)
    before = _entry_id(query.get("before"), "before") if query.get("before") else None
    audit = audit_log(request.app)
    table = audit.table
    statement = select(table).order_by(table.c.id.desc()).limit(ACTIVITY_PAGE_SIZE + 1)
    # A change set's rows are listed on its own page; here it is one line among the sets.
    statement = statement.where(table.c.change_set_id.is_(None))
    if filters["action"]:
        statement = statement.where(table.c.action == filters["action"])
    if since is not None:
        statement = statement.where(table.c.at >= since)
    if until is not None:
        statement = statement.where(table.c.at < until)
    # Only tables the role may see: a hidden one leaves no trace here either.
    statement = statement.where(table.c.table_name.in_(sorted(request_catalog(request).tables)))
    async with audit.reading(request[DB_SESSION]) as conn:
        for name, column in (("user", table.c.username), ("table", table.c.table_name)):
            if filters[name]:
                statement = statement.where(equals(column, filters[name], conn.dialect))
        # A `before` beyond the id column's range is above every entry: no condition.
        if before is not None and can_hold(table.c.id, before, conn.dialect):
            statement = statement.where(table.c.id < before)
        entries = list((await conn.execute(statement)).all())
    shown = entries[:ACTIVITY_PAGE_SIZE]
    kept = {name: value for name, value in filters.items() if value}
    kept.update({k: v for k, v in (("since", since_text), ("until", until_text)) if v})
    older_href = None
    if len(entries) > ACTIVITY_PAGE_SIZE:
        older_href = ACTIVITY_PAGE + "?" + urlencode({**kept, "before": shown[-1].id})
    return {
        "entries": await entry_views(request, shown),
        "change_sets": await recent_change_sets(request, filters) if before is None else [],
        "filters": {**filters, "since": since_text, "until": until_text},
        "actions": ACTIONS,
        "tables": sorted(request_catalog(request).tables),
        "older_href": older_href,
        "newest_href": (ACTIVITY_PAGE + "?" + urlencode(kept)) if before is not None else None,
    }


def _moment(text: str, name: str, *, end_of_day: bool) -> dt.datetime | None:
    """A filter's time (UTC): a date, or a date and time; a bare `until` date includes
    that whole day."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime.combine(day, dt.time())
            return moment + dt.timedelta(days=1) if end_of_day else moment
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise BadRequest(
            f"{name} must be a date (2024-05-31) or a date and time (2024-05-31T14:30), "
            f"not {text[:40]!r}."
        ) from None


def _entry_id(text: str | None, name: str) -> int:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadRequest(f"{name} must be a change number, not {str(text)[:40]!r}.")
    return int(text)


# --- revert ----------------------------------------------------------------------------------


async def revert_form(request: web.Request) -> web.Response:
    entry, _ = await _revertible(request)
    view = entry_view(request, entry)
    await name_references(request, [view])
    return aiohttp_jinja2.render_template(
        "revert.html", request, {"entry": view, "csrf_token": await request_csrf_token(request)}
    )


async def revert(request: web.Request) -> web.Response:
    entry, info = await _revertible(request)
    try:
        async with write_transaction(
            request[DB_SESSION], audit_trail(request, reverts_id=entry.id)
        ) as conn:
            result = await revert_change(conn, info, entry)
    except RevertConflict as exc:
        return _render_conflict(request, entry, exc)
    except RevertRefused as exc:
        raise Conflict(str(exc)) from None
    except StatementError as exc:
        if is_unavailable(exc) or is_schema_mismatch(exc):
            raise
        detail = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
        raise Conflict(
            "The database refused the revert: " + (detail[0][:300] if detail else "")
        ) from None
    await flash(request, f"Change {entry.id} reverted.")
    if result.after is not None and info.primary_key:
        parts = [key_text(result.after[column.name]) for column in info.primary_key]
        raise web.HTTPSeeOther(record_url(info.name, parts))
    raise web.HTTPSeeOther(table_url(info.name))


async def _revertible(request: web.Request) -> tuple[Any, TableInfo]:
    """The entry the URL names and its table, if the user may revert it: 404 for an unknown
    entry or a table no longer shown, 403 without write permission, 409 if not committed."""
    # The role alone, before the lookup, so a viewer learns nothing of which changes exist;
    # the gate decides once the table is known.
    require_role(request, WRITE_ROLE)
    entry_id = _entry_id(request.match_info["entry"], "change")
    audit = audit_log(request.app)
    async with audit.reading(request[DB_SESSION]) as conn:
        entry = await entry_by_id(conn, audit, entry_id)
        later = (await reverted_by(conn, audit, [entry])).get(entry.id) if entry else None
    if entry is None:
        raise NotFound("There is no such change.")
    info = request_catalog(request).tables.get(entry.table_name)
    if info is None:
        raise NotFound("There is no such change.")
    require_write(request, info)
    if entry.state != COMMITTED:
        raise Conflict(
            "This change is not known to have been committed (its audit entry is "
            f"{entry.state}), so it cannot be reverted."
        )
    if later is not None:
        raise Conflict(f"Change {entry.id} was already reverted, by change {later}.")
    return entry, info


def _render_conflict(request: web.Request, entry: Any, exc: RevertConflict) -> web.Response:
    """409: what the row holds now beside what the change left. Nothing was written."""
    rows: Sequence[dict[str, Any]] = [
        {
            "column": difference.column,
            "expected": _cell(difference.expected) if entry.action != "delete" else None,
            "current": _cell(difference.current),
        }
        for difference in exc.differences
    ]
    return aiohttp_jinja2.render_template(
        "revert_conflict.html",
        request,
        {"entry": entry_view(request, entry), "reason": exc.reason, "rows": rows},
        status=409,
    )
