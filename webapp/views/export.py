"""Downloading a table view: `/t/<table>.csv` or `.json` with the table page's query (filters,
search, sort) gives every row the view selects, not one page of them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.accounts.roles import request_catalog
from webapp.database.dialects import streaming_statement
from webapp.listing.exports import BATCH_ROWS, EXPORT_FORMATS, Export, ExportWriter, export_plan
from webapp.listing.table_state import parse_table_state
from webapp.views.common import attachment_disposition, connection, request_dialect
from webapp.views.table import view_conditions
from webapp.web.appkeys import EXPENSIVE_QUERIES, SETTINGS
from webapp.web.metrics import METRICS

log = logging.getLogger(__name__)


class ClientStalled(Exception):
    """The client took none of a download for send_timeout seconds."""


async def export_table(request: web.Request) -> web.StreamResponse:
    """Stream the view's rows. Whatever can fail on the request (a bad filter, a hidden
    column, the statement itself) fails before the first byte is sent, as an error page;
    a failure after that cuts the connection, so a download is never silently short."""
    format_name = request.match_info["format"]
    info = request_catalog(request).by_slug(request.match_info["table"])
    state = parse_table_state(info, request.query, request.app[SETTINGS])
    dialect = request_dialect(request)
    where, _ = view_conditions(state, dialect)
    plan = export_plan(info, dialect, state.sort, where, state.columns)
    return await download(request, plan, format_name, f"{info.name}.{format_name}")


async def download(
    request: web.Request, plan: Export, format_name: str, filename: str
) -> web.StreamResponse:
    """Stream `plan`'s rows as `format_name`, under `filename`, in a slot of the expensive
    share of the pool (a download of the whole view, or of the rows chosen on a page)."""
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{EXPORT_FORMATS[format_name]}; charset=utf-8",
            "Content-Disposition": attachment_disposition(filename),
            "Cache-Control": "no-store",
        }
    )
    if request.method == "HEAD":
        await response.prepare(request)
        return response
    # The connection is taken inside the slot: a refused download never held one.
    metrics = request.app[METRICS]
    outcome = "failed"
    async with request.app[EXPENSIVE_QUERIES].slot(wait=False):
        metrics.exports_in_progress.inc()
        try:
            outcome = await stream_rows(
                request, await connection(request), response, plan, format_name
            )
        finally:
            metrics.exports_in_progress.dec()
            metrics.exports.labels(format_name, outcome).inc()
    return response


async def stream_rows(
    request: web.Request,
    conn: AsyncConnection,
    response: web.StreamResponse,
    plan: Export,
    format_name: str,
) -> str:
    """Write the rows as they come; how it ended: `complete`, `client_left`,
    `client_stalled` or `failed`. A download that stops early (the client left or stopped
    reading for send_timeout, or a failure) drops its database connection instead of closing
    the result, which on MySQL would read and discard every row left (seconds of CPU for a
    big table), and so frees its slot and connection."""
    writer = ExportWriter(format_name, plan.columns)
    send_seconds = request.app[SETTINGS].send_timeout

    async def send(text: str) -> None:
        try:
            async with asyncio.timeout(send_seconds):
                await response.write(text.encode())
        except TimeoutError:
            raise ClientStalled from None

    async with streaming_statement(conn):
        result = await conn.stream(plan.statement.execution_options(yield_per=BATCH_ROWS))
        batches = result.partitions()
        try:
            first: Sequence[Sequence[Any]] = await anext(batches, [])
        except BaseException:
            await conn.invalidate()
            raise
        await response.prepare(request)
        try:
            await send(writer.head() + writer.batch(plan.decode(first)))
            async for rows in batches:  # the last batch closes the result
                await send(writer.batch(plan.decode(rows)))
            await send(writer.tail())
        except BaseException as exc:
            await conn.invalidate()
            if isinstance(exc, ConnectionError):
                log.info("export %s stopped: the client went away", request.path)
                return "client_left"
            if isinstance(exc, ClientStalled):
                log.info(
                    "export %s stopped: the client took nothing for %g s",
                    request.path,
                    send_seconds,
                )
                if request.transport is not None:
                    request.transport.abort()
                return "client_stalled"
            if not isinstance(exc, Exception):
                raise  # cancelled: the client left (with handler cancellation on) or shutdown
            log.exception("export %s failed after it began; the connection is cut", request.path)
            if request.transport is not None:
                request.transport.close()
            return "failed"
    await response.write_eof()
    return "complete"
