"""The SQL console at /sql: a statement typed or saved, run read-only (database/read_only.py),
its first rows shown as the table page shows cells, its plan (EXPLAIN), or every row
downloaded as CSV or JSON. Every run is recorded; queries can be saved with `:name`
parameters under a stable URL, /sql/q/<id>."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from webapp.accounts.signin import current_user
from webapp.accounts.store import UserState
from webapp.console import store
from webapp.console.access import console_refusal
from webapp.console.downloads import ResultWriter
from webapp.console.placeholders import find_placeholders
from webapp.console.runner import (
    DownloadCut,
    Outcome,
    StatementRefused,
    run_page,
    statement,
    stream_rows,
)
from webapp.listing.exports import BATCH_ROWS, EXPORT_FORMATS
from webapp.values import show_value
from webapp.views.common import attachment_disposition
from webapp.views.export import ClientStalled
from webapp.web.appkeys import ACCOUNTS, CONSOLE_ENGINE, SETTINGS
from webapp.web.errors import Forbidden, NotFound
from webapp.web.request_body import RECORD_FORM_LIMIT, body_limit, read_form

log = logging.getLogger(__name__)

SQL_PAGE = "/sql"
PARAMETER_FIELD = "p:"  # a parameter's form field is p:<name>


def console_user(request: web.Request) -> UserState:
    """The signed-in user if their role may use the console; Forbidden (403) otherwise."""
    user = current_user(request)
    settings = request.app[SETTINGS]
    refusal = console_refusal(user.role if user else None, settings.sql, settings.tables)
    if refusal is not None or user is None:
        raise Forbidden(refusal or "Sign in first.")
    return user


async def console_page(request: web.Request) -> web.Response:
    """The empty console, or one holding `?sql=` (never run by a GET)."""
    user = console_user(request)
    return await render_console(request, user, sql=request.query.get("sql", ""))


async def saved_query_page(request: web.Request) -> web.Response:
    """A saved query, its description and a field per parameter, ready to run."""
    user = console_user(request)
    saved = await _saved(request, user)
    return await render_console(request, user, sql=saved.sql_text, saved=saved)


# No database takes a NUL character in a statement's text (nor can the run be recorded).
NUL = "\x00"
NUL_REFUSED = "A statement cannot hold a NUL character."


@body_limit(lambda request: RECORD_FORM_LIMIT)
async def run_console(request: web.Request) -> web.Response:
    """Run, explain or save the form's statement."""
    user = console_user(request)
    form = await read_form(request)
    sql = str(form.get("sql", ""))
    action = str(form.get("action", "run"))
    values = _parameter_values(form)
    accounts = request.app[ACCOUNTS]
    if NUL in sql:
        return await render_console(request, user, sql=sql, error=NUL_REFUSED, status=400)
    if action == "save":
        try:
            query_id = await store.save_query(
                accounts,
                user,
                str(form.get("name", "")),
                str(form.get("description", "")),
                sql,
                form.get("shared") == "on",
            )
        except store.SavedQueryError as exc:
            return await render_console(request, user, sql=sql, values=values, error=str(exc))
        raise web.HTTPSeeOther(f"{SQL_PAGE}/q/{query_id}")
    if action not in ("run", "explain"):
        return await render_console(
            request, user, sql=sql, values=values, error="Unknown action.", status=400
        )
    if not sql.strip():
        return await render_console(
            request, user, sql=sql, error="Type a statement first.", status=400
        )
    settings = request.app[SETTINGS].sql
    engine = request.app[CONSOLE_ENGINE]
    try:
        clause = statement(sql, values, explain=action == "explain", dialect=engine.dialect)
    except StatementRefused as exc:
        return await render_console(request, user, sql=sql, values=values, error=str(exc))
    outcome = await run_page(
        engine, clause, seconds=settings.time_limit, max_rows=settings.max_rows
    )
    await store.record_run(
        accounts, user, sql, action, outcome.milliseconds, outcome.row_count, outcome.error
    )
    return await render_console(
        request,
        user,
        sql=sql,
        values=values,
        outcome=outcome,
        status=400 if outcome.error else 200,
    )


@body_limit(lambda request: RECORD_FORM_LIMIT)
async def download_result(request: web.Request) -> web.StreamResponse:
    """Every row of the form's statement, streamed as CSV or JSON. A refusal before the
    first row is the console page with the database's words; a failure after it cuts the
    connection, so a download is never silently short."""
    user = console_user(request)
    form = await read_form(request)
    format_name = request.match_info["format"]
    sql = str(form.get("sql", ""))
    values = _parameter_values(form)
    settings = request.app[SETTINGS]
    engine = request.app[CONSOLE_ENGINE]
    accounts = request.app[ACCOUNTS]
    seconds = settings.sql.time_limit
    if NUL in sql:
        return await render_console(request, user, sql=sql, error=NUL_REFUSED, status=400)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        clause = statement(sql, values, explain=False, dialect=engine.dialect)
        if not sql.strip():
            raise StatementRefused("Type a statement first.")
        async with stream_rows(engine, clause, seconds=seconds, batch=BATCH_ROWS) as streamed:
            names, batches, deadline = streamed
            response = web.StreamResponse(
                headers={
                    "Content-Type": f"{EXPORT_FORMATS[format_name]}; charset=utf-8",
                    "Content-Disposition": attachment_disposition(f"query.{format_name}"),
                    "Cache-Control": "no-store",
                }
            )
            writer = ResultWriter(format_name, names)
            rows = await _send_all(
                request, response, writer, batches, deadline.renew, settings.send_timeout
            )
    except DownloadCut as exc:
        milliseconds = int((loop.time() - started) * 1000)
        await store.record_run(accounts, user, sql, format_name, milliseconds, None, str(exc))
        return response
    except StatementRefused as exc:
        milliseconds = int((loop.time() - started) * 1000)
        await store.record_run(accounts, user, sql, format_name, milliseconds, None, str(exc))
        return await render_console(
            request, user, sql=sql, values=values, error=str(exc), status=400
        )
    milliseconds = int((loop.time() - started) * 1000)
    await store.record_run(accounts, user, sql, format_name, milliseconds, rows, None)
    return response


async def _send_all(
    request: web.Request,
    response: web.StreamResponse,
    writer: ResultWriter,
    batches: Any,
    renew: Any,
    send_seconds: float,
) -> int | None:
    """Write the batches as they come; the number of rows sent. A stop after the first
    byte cuts the client's connection (DownloadCut)."""

    async def send(text: str) -> None:
        try:
            async with asyncio.timeout(send_seconds):
                await response.write(text.encode())
        except TimeoutError:
            raise ClientStalled from None

    rows = 0
    first: list[Any] = await anext(batches, [])  # a refusal here still shows the console page
    await response.prepare(request)
    try:
        await send(writer.head() + writer.batch(first))
        rows += len(first)
        async for batch in batches:
            renew()
            await send(writer.batch(batch))
            rows += len(batch)
        await send(writer.tail())
    except (ConnectionError, ClientStalled):
        if request.transport is not None:
            request.transport.abort()
        raise DownloadCut("Download stopped: the client went away or stopped reading.") from None
    except StatementRefused as exc:
        if request.transport is not None:
            request.transport.close()
        raise DownloadCut(f"Download cut after {rows} rows: {exc}") from None
    await response.write_eof()
    return rows


async def delete_saved_query(request: web.Request) -> web.Response:
    user = console_user(request)
    await read_form(request)
    query_id = _query_id(request)
    if not await store.delete_query(request.app[ACCOUNTS], user, query_id):
        raise NotFound("There is no saved query of yours at this address.")
    raise web.HTTPSeeOther(SQL_PAGE)


async def render_console(
    request: web.Request,
    user: UserState,
    *,
    sql: str = "",
    values: Mapping[str, str] | None = None,
    outcome: Outcome | None = None,
    saved: Any = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    accounts = request.app[ACCOUNTS]
    settings = request.app[SETTINGS].sql
    values = values or {}
    names = find_placeholders(sql).names
    rows = None
    if outcome is not None and outcome.error is None:
        rows = [[show_value(value, True) for value in row] for row in outcome.rows]
    context = {
        "sql": sql,
        "parameters": [(name, values.get(name, "")) for name in names],
        "outcome": outcome,
        "rows": rows,
        "saved": saved,
        "can_delete": saved is not None and (saved.owner_id == user.id or user.role == "admin"),
        "error": error,
        "queries": await store.visible_queries(accounts, user),
        "runs": await store.recent_runs(accounts, user),
        "time_limit": settings.time_limit,
        "max_rows": settings.max_rows,
    }
    response = aiohttp_jinja2.render_template("sql.html", request, context)
    response.set_status(status)
    return response


def _parameter_values(form: Mapping[str, Any]) -> dict[str, str]:
    return {
        key[len(PARAMETER_FIELD) :]: str(value)
        for key, value in form.items()
        if key.startswith(PARAMETER_FIELD)
    }


def _query_id(request: web.Request) -> int:
    text = request.match_info["query"]
    # Saved queries are numbered by a 32-bit key on every backend: a larger number names none.
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > 2**31 - 1:
        raise NotFound("There is no saved query at this address.")
    return int(text)


async def _saved(request: web.Request, user: UserState) -> Any:
    saved = await store.find_query(request.app[ACCOUNTS], user, _query_id(request))
    if saved is None:
        raise NotFound("There is no saved query at this address.")
    return saved
