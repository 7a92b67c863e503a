"""Downloading a table view: `/t/<table>.csv` or `.json` with the table page's query (filters,
search, sort) gives every row the view selects, not one page of them."""

from __future__ import annotations

import logging

from aiohttp import web

from ..exports import BATCH_ROWS, EXPORT_FORMATS, Export, ExportWriter, export_plan
from ..keys import EXPORT_SLOTS, SETTINGS
from ..permissions import request_catalog
from ..table_state import parse_table_state
from .common import attachment_disposition, connection
from .table import view_conditions

log = logging.getLogger(__name__)


async def export_table(request: web.Request) -> web.StreamResponse:
    """Stream the view's rows. Whatever can fail on the request (a bad filter, a hidden
    column, the statement itself) fails before the first byte is sent, as an error page;
    a failure after that cuts the connection, so a download is never silently short."""
    format_name = request.match_info["format"]
    info = request_catalog(request).by_slug(request.match_info["table"])
    state = parse_table_state(info, request.query, request.app[SETTINGS])
    conn = await connection(request)
    where, _ = view_conditions(state, conn.dialect)
    plan = export_plan(info, conn.dialect, state.sort, where)
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{EXPORT_FORMATS[format_name]}; charset=utf-8",
            "Content-Disposition": attachment_disposition(f"{info.name}.{format_name}"),
            "Cache-Control": "no-store",
        }
    )
    if request.method == "HEAD":
        await response.prepare(request)
        return response
    with request.app[EXPORT_SLOTS].take():
        await stream_rows(request, response, plan, format_name)
    return response


async def stream_rows(
    request: web.Request, response: web.StreamResponse, plan: Export, format_name: str
) -> None:
    writer = ExportWriter(format_name, plan.columns)
    statement = plan.statement.execution_options(yield_per=BATCH_ROWS)
    conn = await connection(request)
    async with conn.stream(statement) as result:
        batches = result.partitions()
        first = await anext(batches, [])
        await response.prepare(request)
        try:
            await response.write((writer.head() + writer.batch(plan.decode(first))).encode())
            async for rows in batches:
                await response.write(writer.batch(plan.decode(rows)).encode())
            await response.write(writer.tail().encode())
        except ConnectionError:
            log.info("export %s stopped: the client went away", request.path)
            return
        except Exception:
            log.exception("export %s failed after it began; the connection is cut", request.path)
            if request.transport is not None:
                request.transport.close()
            return
    await response.write_eof()
