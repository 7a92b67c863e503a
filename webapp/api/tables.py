"""`/api/` and `/api/t/<table>`: the index's tables and views with their counts, and one
page of a table's rows, chosen exactly as the table page chooses them (webapp.listing: the
same search, filters, sort, page size and signed keyset cursor) and counted as the page
counts them. Rows come whole (no cell is cut short) and typed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from webapp.accounts.roles import request_catalog, write_refusal
from webapp.api.documents import (
    API,
    RowWriter,
    api_table_url,
    count_document,
    json_response,
)
from webapp.listing.paging import Page, fetch_page, keyset_columns
from webapp.listing.queries import ListPlan, SortKey
from webapp.listing.table_state import TableState, parse_table_state
from webapp.schema.catalog import TableInfo, str_type
from webapp.values import key_text, kind_for
from webapp.views.common import request_dialect
from webapp.views.index import index_counts
from webapp.views.table import (
    ScanReport,
    comparable_filters,
    next_href,
    page_count,
    previous_href,
    scan_report,
    scan_worth_trying_now,
    search_chunk_rows,
    view_conditions,
    view_page,
)
from webapp.web.appkeys import SETTINGS
from webapp.web.errors import BadRequest
from webapp.web.urls import key_segment, record_url_prefix


async def api_index(request: web.Request) -> web.Response:
    """Every table and view the role sees, with its count as the index page shows it."""
    catalog = request_catalog(request)
    counts = await index_counts(request)
    tables = [
        {
            "name": info.name,
            "schema": info.schema,
            "is_view": info.is_view,
            "primary_key": [column.name for column in info.primary_key],
            "columns": len(info.columns),
            "count": count_document(counts.get(info.name)),
            "href": api_table_url(info.name),
        }
        for info in catalog
    ]
    return json_response(
        {
            "tables": [entry for entry in tables if not entry["is_view"]],
            "views": [entry for entry in tables if entry["is_view"]],
            "openapi": "/api/openapi.json",
        }
    )


async def api_table(request: web.Request) -> web.Response:
    """One page of rows; a filter the column cannot hold is a 400 listing each problem
    (the page leaves it out and says why; a script should not get other rows silently)."""
    settings = request.app[SETTINGS]
    info = request_catalog(request).by_slug(request.match_info["table"])
    problems: list[str] = []
    state = parse_table_state(info, request.query, settings, problems=problems)
    dialect = request_dialect(request)
    state = comparable_filters(state, dialect, problems)
    if problems:
        raise BadRequest(
            " ".join(problems),
            {"errors": [{"field": "filter", "message": problem} for problem in problems]},
        )
    where, search = view_conditions(state, dialect)
    scan = search.scan_condition if search is not None else None
    scan_where = None
    if scan is not None and scan_worth_trying_now(request, state):
        scan_where = [*where[:-1], scan]
    plan, expressions, writer = api_page_plan(info, dialect, state.sort)
    chunk_rows = search_chunk_rows(request, state, search)

    async def fetch(conn: AsyncConnection) -> Page:
        return await fetch_page(
            conn,
            info,
            plan,
            expressions,
            sort=state.sort,
            where=where,
            size=state.size,
            page_number=state.page,
            cursor_text=state.cursor,
            secret_key=settings.secret_key,
            scan_where=scan_where,
            chunk_rows=chunk_rows,
        )

    page = await view_page(request, state, search, fetch, "api-page")
    report = await scan_report(request, state, page)
    count = None if report is not None else await page_count(request, state, page, where)
    return json_response(page_document(request, state, page, plan, writer, count, report))


def page_document(
    request: web.Request,
    state: TableState,
    page: Page,
    plan: ListPlan,
    writer: RowWriter,
    count: Any,
    scan: ScanReport | None = None,
) -> dict[str, Any]:
    """The page as JSON; `searched` says how far a bounded search read when it stopped
    before the table's last row (null otherwise), `links.continue` goes on after that, and
    `links.all` reads every remaining row at once."""
    info = state.info
    rows = []
    key_positions = [plan.positions[column.name] for column in info.primary_key]
    prefix = API + record_url_prefix(info.name)
    for row in page.rows:
        document = writer(row)  # the visible columns come first
        if key_positions:
            document["_href"] = prefix + key_segment([key_text(row[i]) for i in key_positions])
        rows.append(document)
    previous, following = previous_href(state, page), next_href(state, page)
    return {
        "table": info.name,
        "columns": info.derived(("api-columns",), lambda: column_documents(info)),
        "rows": rows,
        "first_row": page.position + 1,
        "size": state.size,
        "count": count_document(count),
        "searched": searched_document(scan),
        "links": {
            "self": "/api" + state.href(),
            "next": "/api" + following if following else None,
            "prev": "/api" + previous if previous else None,
            "first": "/api" + state.first_page() if page.has_previous else None,
            "continue": "/api" + scan.continue_href if scan is not None else None,
            "all": "/api" + scan.all_href if scan is not None else None,
            "html": state.href(),
        },
        "writable": write_refusal(request, info) is None,
    }


def column_documents(info: TableInfo) -> list[dict[str, Any]]:
    """The page's column list, the same for every page of a table and role: made once (a
    type's name is compiled by the dialect each time it is asked for)."""
    return [
        {
            "name": column.name,
            "type": str_type(column.type),
            "family": kind_for(column).family,
            "nullable": bool(column.nullable),
            "primary_key": column.primary_key,
        }
        for column in info.columns
    ]


def searched_document(scan: ScanReport | None) -> dict[str, Any] | None:
    """How far a bounded search read: `rows` by this request, `through` the table's rows 1
    to N in key order so far (null when the walk went on from a Next link), `of` the
    table's count, and `found` whether the walk found any row yet."""
    if scan is None:
        return None
    return {
        "rows": scan.read,
        "through": scan.through,
        "of": count_document(scan.table_rows),
        "found": scan.found,
        "text": scan.text,
    }


def api_page_plan(
    info: TableInfo, dialect: Dialect, sort: SortKey | None
) -> tuple[ListPlan, list[ColumnElement[Any]], RowWriter]:
    """Every visible column, whole, as the record page selects it, then any keyset column
    not among them; made once per table, order and role."""
    whole = keyset_columns(info, sort) or ()

    def make() -> tuple[ListPlan, list[ColumnElement[Any]], RowWriter]:
        expressions: list[ColumnElement[Any]] = [
            kind_for(column, dialect).record_expression() for column in info.columns
        ]
        positions = {column.name: index for index, column in enumerate(info.columns)}
        for column in whole:
            if column.name not in positions:
                positions[column.name] = len(expressions)
                expressions.append(column)
        key_names = [column.name for column in info.primary_key]
        return ListPlan([], positions, key_names, {}), expressions, RowWriter(info.columns)

    names: Sequence[str] = tuple(column.name for column in whole)
    return info.derived(("api-page", dialect.name, names), make)
