"""The table page: one page of rows, narrowed by search and filters, sorted, with facets,
counts, and links to each record and to the records its foreign keys point at. The handler
only composes: table_state parses the URL, filters/search build conditions, paging slices,
labels and facets fetch what the page shows beside the rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import Column, Select, literal_column, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from webapp.accounts.roles import request_catalog, write_refusal
from webapp.changes.forms import editable_in_list
from webapp.listing.counts import (
    UNKNOWN,
    RowCount,
    exact_count,
    filtered_count,
    table_row_count,
)
from webapp.listing.exports import EXPORT_FORMATS
from webapp.listing.facets import AUTO_FACET_MAX_ROWS, Facet, compute_facets
from webapp.listing.filters import Filter
from webapp.listing.paging import Page, fetch_page, keyset_columns
from webapp.listing.queries import ListPlan, SortKey, list_plan
from webapp.listing.rows_html import RowsWriter, rows_writer
from webapp.listing.search import Search, scan_worth_trying, search_columns, search_for
from webapp.listing.table_state import (
    CHOOSER_FIELD,
    CHOOSER_NAME,
    CHOOSER_PLACE,
    CHOOSER_SHOW,
    TableState,
    added_filter_href,
    chosen_columns_href,
    deep_page_message,
    parse_table_state,
)
from webapp.schema.catalog import Catalog, TableInfo
from webapp.schema.labels import label_expressions
from webapp.values import Cell
from webapp.views.common import connection, request_dialect, request_role
from webapp.views.table_html import filter_options_html, page_headings_html
from webapp.web.appkeys import EXPENSIVE_QUERIES, FACETS, SEARCH_MISSES, SETTINGS, TABLE_COUNTS
from webapp.web.errors import BadRequest, TooBusy
from webapp.web.urls import record_url_prefix, table_url


async def table_page(request: web.Request) -> web.Response:
    """The page; a bad filter (in the URL or just submitted by the filter form) is left
    out, and the page says why beside the filter form, with status 400."""
    settings = request.app[SETTINGS]
    catalog = request_catalog(request)
    info = catalog.by_slug(request.match_info["table"])
    problems: list[str] = []
    column_problems: list[str] = []
    state = parse_table_state(
        info, request.query, settings, problems=problems, column_problems=column_problems
    )
    redirect = added_filter_href(state, request.query, problems=problems)
    if redirect is None:
        redirect = chosen_columns_href(state, request.query, problems=column_problems)
    if redirect is not None:
        raise web.HTTPFound(redirect)

    dialect = request_dialect(request)
    state = comparable_filters(state, dialect, problems)
    where, search = view_conditions(state, dialect)
    scan_where = None
    scan = search.scan_condition if search is not None else None
    if scan is not None and scan_worth_trying_now(request, state):
        scan_where = [*where[:-1], scan]
    plan, expressions, writer = page_plan(catalog, info, dialect, state.sort, state.columns)
    chunk_rows = search_chunk_rows(request, state, search)
    last_of = await last_page_rows(request, state, where) if state.last else None

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
            last_of=last_of,
        )

    page = await view_page(request, state, search, fetch, "page")
    report = await scan_report(request, state, page)
    count = None if report is not None else await page_count(request, state, page, where)
    # Nothing matches the search or filters: no facets of nothing, an empty state instead.
    nothing_found = state.narrowed and not page.rows and page.position == 0 and report is None
    facets, facets_note = ([], None) if nothing_found else await page_facets(request, state, where)
    read_only_reason = write_refusal(request, info)
    pick = read_only_reason is None and bool(info.primary_key)
    context = {
        "info": info,
        "read_only_reason": read_only_reason,
        "headings_html": page_headings_html(info, state),
        "rows_html": writer.html(page.rows, pick=pick, edit=pick and state.edit),
        "bulk": bulk_form_context(info, state) if pick else None,
        "cell_editing": cell_editing_context(info, state, writer) if pick else None,
        "open_column": writer.open_column,
        "row_count": len(page.rows),
        "page": page.position // state.size + 1,
        "size": state.size,
        "page_sizes": page_size_links(state, settings.max_page_size),
        "first_row": page.position + 1,
        "count": count,
        "previous_href": previous_href(state, page),
        "next_href": next_href(state, page),
        "too_deep": page.has_next and not page.keyset and not state.offset_allowed(state.page + 1),
        "deep_page_message": deep_page_message(),
        "first_href": state.first_page() if page.has_previous else None,
        "last_href": last_href(state, page, count),
        "export_hrefs": {name: state.export_href(name) for name in EXPORT_FORMATS},
        "search": state.search,
        "search_columns": [column.name for column in search_columns(info)],
        "hidden_inputs": state.hidden_inputs(keep_search=False),
        "filter_inputs": state.hidden_inputs(),
        "filters": [describe_filter(state, item) for item in state.filters],
        "filter_options_html": info.derived(
            "filter-options", lambda: filter_options_html(request, info)
        ),
        "clear_href": state.first_page(filters=(), search="") if state.narrowed else None,
        "facets": facets,
        "facets_note": facets_note,
        "nothing_found": nothing_found,
        "search_scan": report,
        "search_remove_href": state.first_page(search=""),
        "filter_error": " ".join(problems) or None,
        "filter_value": request.query.get("filter_value", "") if problems else "",
        "chooser": column_chooser_context(state),
        "columns_error": " ".join(column_problems) or None,
    }
    status = 400 if problems or column_problems else 200
    return aiohttp_jinja2.render_template("table.html", request, context, status=status)


PAGE_SIZES = (10, 25, 50, 100, 200, 500)


def page_size_links(state: TableState, max_size: int) -> list[tuple[int, str | None]]:
    """The page sizes offered under the rows, each with the view's URL at that size (None
    for the size shown): the usual sizes up to the configured most, the table's own and the
    one shown."""
    usual = {size for size in PAGE_SIZES if size <= max_size}
    sizes = sorted(usual | {state.default_size, state.size})
    return [(size, None if size == state.size else state.first_page(size=size)) for size in sizes]


def comparable_filters(state: TableState, dialect: Dialect, problems: list[str]) -> TableState:
    """The view without the filters whose value the column cannot hold (a comparison the
    database could not make), each one's reason added to `problems`."""
    kept = []
    for item in state.filters:
        try:
            item.condition(dialect)
        except BadRequest as exc:
            problems.append(exc.message)
        else:
            kept.append(item)
    if len(kept) == len(state.filters):
        return state
    return replace(state, filters=tuple(kept))


# Filter operators an index on the column can answer without reading every row.
INDEX_OPERATORS = frozenset({"exact", "in", "lt", "lte", "gt", "gte", "isnull"})


def expensive_view(state: TableState, search: Search | None) -> bool:
    """Whether finding the page's rows may take more than an index lookup: a search no
    FULLTEXT index answers, a filter no index serves, or an order (other than the table's
    usual one) on a column without an index. Such pages take a slot of the expensive share
    of the pool, under its time limit, instead of the request's own connection."""
    info = state.info
    if search is not None and not search.indexed:
        return True
    if any(
        item.column.name not in info.indexed_columns or item.op not in INDEX_OPERATORS
        for item in state.filters
    ):
        return True
    sort = state.sort
    return (
        sort is not None
        and sort.param != state.default_sort
        and sort.column.name not in info.indexed_columns
    )


def search_chunk_rows(request: web.Request, state: TableState, search: Search | None) -> int | None:
    """The most rows the view's search may read in one request (pages.search_chunk_rows),
    or None where it reads as it always did: no search, one a FULLTEXT index answers,
    every remaining row asked for (`all=1`), an order other than the primary key's (the
    rows of a chunk of keys would not be the first in that order), or a table whose cached
    count says it is no bigger than a chunk."""
    if search is None or search.indexed or state.search_all:
        return None
    info = state.info
    keyset = keyset_columns(info, state.sort)
    if keyset is None or [c.name for c in keyset] != [c.name for c in info.primary_key]:
        return None
    chunk = request.app[SETTINGS].search_chunk_rows
    table_rows = request.app[TABLE_COUNTS].get(table_count_key(info))
    known = table_rows is not None and table_rows.kind in ("exact", "estimate")
    if known and table_rows is not None and table_rows.value <= chunk:
        return None
    return chunk


async def view_page(
    request: web.Request,
    state: TableState,
    search: Search | None,
    fetch: Callable[[AsyncConnection], Awaitable[Page]],
    kind: str,
) -> Page:
    """The view's page, from `fetch`: on the request's own connection when an index finds
    its rows, else in a slot of the expensive share (see expensive_view). A search page
    that found no row is kept briefly for the same role and view (listing.search), so that
    asking again for a word found nowhere reads nothing."""
    if not expensive_view(state, search):
        return await fetch(await connection(request))
    role = request_role(request)
    misses = request.app[SEARCH_MISSES]
    miss_key = (role, state.href())
    if state.search:
        cached = misses.get(miss_key)
        if cached is not None:
            return cached
    page = await request.app[EXPENSIVE_QUERIES].run((kind, role, state.href()), fetch)
    if state.search and not page.rows:
        misses.put(miss_key, page)
    return page


@dataclass(frozen=True)
class ScanReport:
    """What a page and its JSON twin say of a bounded search that stopped before the
    table's last row: how far it read, and the links that go on."""

    read: int
    through: int | None
    table_rows: RowCount | None
    found: bool  # whether this walk found any row so far
    shown: bool  # whether this page shows any
    continue_href: str
    all_href: str

    @property
    def text(self) -> str:
        if self.through is not None:
            text = f"Searched rows 1–{self.through:,}"
        else:
            text = f"Searched {self.read:,} more rows"
        if self.table_rows is not None and self.table_rows.kind != "unknown":
            text += f" of {self.table_rows}"
        if not self.found:
            return text + ", no match yet."
        if not self.shown:
            return text + ", no further match yet."
        return text + "; rows further on may match too."


async def scan_report(request: web.Request, state: TableState, page: Page) -> ScanReport | None:
    """How far the page's bounded search read, or None when it is not one that stopped
    short (its rows are then counted as any page's)."""
    scan = page.scan
    if scan is None:
        return None
    info = state.info
    table_rows = await cached_count(
        request, table_count_key(info), lambda conn: table_row_count(conn, info)
    )
    onward = {"cursor": scan.continue_cursor, "page": 1}
    return ScanReport(
        read=scan.read,
        through=scan.through,
        table_rows=table_rows,
        found=bool(page.rows) or page.position > 0,
        shown=bool(page.rows),
        continue_href=state.href(**onward),
        all_href=state.href(search_all=True, **onward),
    )


def view_conditions(
    state: TableState, dialect: Dialect
) -> tuple[list[ColumnElement[bool]], Search | None]:
    """The conditions that select the view's rows: its filters, then its search (last, so
    that a plan may swap it for the search's scan condition), and that search."""
    where: list[ColumnElement[bool]] = [item.condition(dialect) for item in state.filters]
    if not state.search:
        return where, None
    search = search_for(state.info, state.search, dialect)
    where.append(search.condition)
    return where, search


def previous_href(state: TableState, page: Page) -> str | None:
    if not page.has_previous:
        return None
    if page.previous_cursor:
        return state.href(cursor=page.previous_cursor, page=1)
    return state.href(page=max(1, state.page - 1), cursor=None)


def next_href(state: TableState, page: Page) -> str | None:
    if not page.has_next:
        return None
    if page.next_cursor:
        return state.href(cursor=page.next_cursor, page=1)
    if not state.offset_allowed(state.page + 1):
        return None
    return state.href(page=state.page + 1, cursor=None)


def last_href(state: TableState, page: Page, count: RowCount | None) -> str | None:
    """The link to the last page, beside Next: by keyset, `last=1` (the page reads the
    order backwards from its end); by OFFSET, the last page's number, when the count is
    exact and that page is within the rows OFFSET may skip. None on a page of a bounded
    search (no count): its end is only known once the search has read every row."""
    if not page.has_next or count is None:
        return None
    if keyset_columns(state.info, state.sort) is not None:
        return state.href(last=True, page=1, cursor=None)
    if not count.exact:
        return None
    number = max(count.value - 1, 0) // state.size + 1
    return state.href(page=number, cursor=None) if state.offset_allowed(number) else None


async def last_page_rows(
    request: web.Request, state: TableState, where: Sequence[ColumnElement[bool]]
) -> int:
    """How many rows the view has, counted exactly for its last page (asked for, so
    worth a count of the whole view, in a slot of the expensive share under its time
    limit), and cached as the view's exact count; a last page OFFSET cannot reach is a 400."""

    async def count(conn: AsyncConnection) -> int:
        statement: Select[Any] = (
            select(literal_column("1")).select_from(state.info.table).where(*where)
        )
        return await exact_count(conn, statement)

    total = await request.app[EXPENSIVE_QUERIES].run(("last", state.count_key), count)
    request.app[TABLE_COUNTS].put(state.count_key, RowCount(total, "exact"))
    number = max(total - 1, 0) // state.size + 1
    if keyset_columns(state.info, state.sort) is None and not state.offset_allowed(number):
        raise BadRequest(deep_page_message())
    return total


def scan_worth_trying_now(request: web.Request, state: TableState) -> bool:
    """Whether the counts cached so far leave a bounded scan a chance to fill the page."""
    cache = request.app[TABLE_COUNTS]
    table_rows = cache.get(table_count_key(state.info))
    return scan_worth_trying(cache.get(state.count_key), table_rows, state.size)


async def page_count(
    request: web.Request, state: TableState, page: Page, where: Sequence[ColumnElement[bool]]
) -> RowCount:
    """Exact when the page shows the last row; otherwise the table's cached count (an
    estimate for a big table), or for a filtered set a time-limited, bounded count, cached
    too, saying "more than N" when it stops early. A search's first page that holds every
    row is its own exact count, cached as one: the next search for a rare word then skips
    the bounded scan (scan_worth_trying_now)."""
    seen = page.position + len(page.rows)
    if not page.has_next and (page.rows or page.position == 0):
        if state.search and not page.has_previous:
            request.app[TABLE_COUNTS].put(state.count_key, RowCount(seen, "exact"))
        return RowCount(seen, "exact")
    count = await cached_count(
        request, state.count_key, lambda conn: count_rows(conn, state, where)
    )
    if count is None:  # another request is counting right now
        count = UNKNOWN
    if not page.rows:  # past the end: the rows before it say nothing
        return count
    if count is UNKNOWN or (count.kind != "estimate" and count.value < seen):
        return RowCount(seen, "at_least")
    return count


async def cached_count(
    request: web.Request,
    key: Hashable,
    compute: Callable[[AsyncConnection], Awaitable[RowCount]],
) -> RowCount | None:
    """The app's cached count for `key`, computed by this request if it is the one to do
    so (in a slot of the expensive share, if one is free); None while another request
    computes a count never made before, or when no slot is free."""
    cache = request.app[TABLE_COUNTS]
    count, should_count = cache.lookup(key)
    if not should_count:
        return count
    try:
        count = await request.app[EXPENSIVE_QUERIES].run(
            ("count", key), compute, wait=False, time_limited=False
        )
    except TooBusy:
        cache.release(key)
        return None
    except BaseException:
        cache.release(key)
        raise
    cache.put(key, count)
    return count


async def count_rows(
    conn: AsyncConnection, state: TableState, where: Sequence[ColumnElement[bool]]
) -> RowCount:
    """The table's count, or for a filtered or searched set a bounded, time-limited one."""
    if state.narrowed:
        statement: Select[Any] = (
            select(literal_column("1")).select_from(state.info.table).where(*where)
        )
        return await filtered_count(conn, state.info, statement)
    return await table_row_count(conn, state.info)


async def page_facets(
    request: web.Request, state: TableState, where: Sequence[ColumnElement[bool]]
) -> tuple[list[Facet], str | None]:
    """Facets for the current set; on a big table only when asked for, so that the page
    itself stays fast."""
    info = state.info
    if not state.facets:
        table_count = await cached_count(
            request, table_count_key(info), lambda conn: table_row_count(conn, info)
        )
        if (
            table_count is None
            or table_count.kind != "exact"
            or table_count.value > AUTO_FACET_MAX_ROWS
        ):
            return [], state.href(facets=True)

    def toggle(column: Column, text: str | None) -> tuple[str, bool]:
        op, value = ("isnull", "1") if text is None else ("exact", text)
        for item in state.filters:
            if item.column is column and item.op == op and (text is None or item.text == text):
                return state.without_filter(item), True
        added = Filter(column, op, value)
        return state.first_page(filters=(*state.filters, added)), False

    async def compute(conn: AsyncConnection) -> list[Facet]:
        return await compute_facets(conn, request_catalog(request), info, where, toggle_href=toggle)

    # Asked for, facets wait their turn; shown unasked, they give way when all are busy.
    key = ("facets", request_role(request), state.href())
    cache = request.app[FACETS]
    cached = cache.get(key)
    if cached is not None:
        return cached, None
    try:
        facets = await request.app[EXPENSIVE_QUERIES].run(
            key, compute, wait=state.facets, time_limited=False
        )
    except TooBusy:
        if state.facets:
            raise
        return [], state.href(facets=True)
    cache.put(key, facets)
    return facets, None


def bulk_form_context(info: TableInfo, state: TableState) -> dict[str, Any]:
    """What the table page's bulk form offers: the columns a bulk "set" may change (not
    the key, not read-only for the role), the downloads of the chosen rows, and the view
    it keeps."""
    columns = [
        column.name
        for column in info.columns
        if not column.primary_key
        and column.name not in info.read_only_columns
        and column.computed is None
    ]
    href = table_url(info.name) + "/bulk"
    return {
        "href": href,
        "export_hrefs": {name: f"{href}.{name}" for name in EXPORT_FORMATS},
        "columns": columns,
        "view_inputs": state.hidden_inputs(),
        "narrowed": state.narrowed,
    }


def cell_editing_context(
    info: TableInfo, state: TableState, writer: RowsWriter
) -> dict[str, Any] | None:
    """What the table page needs to offer editing its cells (static/inline.js in place; the
    `edit` view's links without script): per listed column its name when editable (else
    None), where the records are, and the link that turns the links on or off."""
    columns = list(writer.edit_columns)
    if not any(columns):
        return None
    return {
        "columns": columns,
        "records": record_url_prefix(info.name),
        "toggle_href": state.href(edit=not state.edit),
        "on": state.edit,
    }


def table_count_key(info: TableInfo) -> Hashable:
    """The count cache's key for the whole table (no filters, no search)."""
    return (info.name, (), "")


def describe_filter(state: TableState, item: Filter) -> dict[str, str]:
    return {"text": item.description, "remove_href": state.without_filter(item)}


def page_plan(
    catalog: Catalog,
    info: TableInfo,
    dialect: Dialect,
    sort: SortKey | None,
    columns: Sequence[Column] | None = None,
) -> tuple[ListPlan, list[ColumnElement[Any]], RowsWriter]:
    """What the page selects (listed columns, keys, the keyset order's columns, labels of
    foreign keys) and the writer of its rows, worked out once per table, order and role
    for the table's own columns. Chosen `columns` (any of the many orders of any subset)
    get theirs made for the request, so that no URL can grow what is kept."""
    whole = keyset_columns(info, sort) or ()

    def make() -> tuple[ListPlan, list[ColumnElement[Any]], RowsWriter]:
        labels = label_expressions(catalog, info, columns)
        plan, expressions = list_plan(
            info, dialect, also_whole=whole, labels=labels, listed=columns
        )
        editable = {column.name for column in info.columns if editable_in_list(info, column)}
        return plan, expressions, rows_writer(info, plan, editable)

    if columns is not None:
        return make()
    return info.derived(("page", dialect.name, tuple(column.name for column in whole)), make)


def column_chooser_context(state: TableState) -> dict[str, Any]:
    """The column chooser's form: every column the role sees, the shown ones first in their
    order, each with its place and whether it is shown; the view it keeps; the link back
    to the table's own columns (None when they are shown)."""
    listed = state.listed
    shown = {column.name for column in listed}
    rest = [column for column in state.info.columns if column.name not in shown]
    return {
        "columns": [
            (column.name, place, column.name in shown)
            for place, column in enumerate([*listed, *rest], start=1)
        ],
        "inputs": state.hidden_inputs(keep_columns=False),
        "reset_href": None if state.columns is None else state.href(columns=None),
        "fields": (CHOOSER_FIELD, CHOOSER_NAME, CHOOSER_PLACE, CHOOSER_SHOW),
    }


__all__ = ["Cell", "table_page"]
