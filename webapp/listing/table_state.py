"""What a table page's URL asks for (sort, size, filters, search, page or cursor), parsed
and checked once, and the URL of any variation of it, so that every link on the page keeps
the rest of the view."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from multidict import MultiMapping

from webapp.listing.filters import Filter, parse_filters
from webapp.listing.queries import SortKey, parse_sort
from webapp.listing.search import parse_search
from webapp.schema.catalog import TableInfo
from webapp.settings import Settings
from webapp.web.errors import BadRequest
from webapp.web.urls import export_url, table_url

MAX_PAGE_NUMBER = 1_000_000
# OFFSET reads and drops every row before the page: beyond this many, a page costs tenths of
# a second on a big table. Keyset orders go deeper through their cursors.
MAX_OFFSET_ROWS = 100_000
CURSOR_PARAM = "cursor"
FACETS_PARAM = "facets"
EDIT_PARAM = "edit"  # each editable cell links to the record form (for a page without script)
# A search no index answers reads every remaining row at once, not a chunk (search_chunk_rows).
ALL_PARAM = "all"


def deep_page_message() -> str:
    return (
        f"Page numbers reach the first {MAX_OFFSET_ROWS:,} rows. To go deeper, sort by the key "
        "or an indexed column and follow the Next links, or narrow the rows with filters."
    )


@dataclass(frozen=True)
class TableState:
    info: TableInfo
    sort: SortKey | None
    default_sort: str
    size: int
    default_size: int
    filters: tuple[Filter, ...] = ()
    search: str = ""
    page: int = 1
    cursor: str | None = None
    facets: bool = False
    edit: bool = False
    search_all: bool = False

    @property
    def narrowed(self) -> bool:
        """Whether filters or a search select only some rows."""
        return bool(self.filters or self.search)

    @property
    def count_key(self) -> tuple[Any, ...]:
        """What the rows counted depend on: the table, the filters and the search."""
        return (self.info.name, tuple(sorted((f.param, f.text) for f in self.filters)), self.search)

    def href(self, **changes: Any) -> str:
        """This view's URL with `changes` (sort, size, filters, search, page, cursor,
        facets, edit, search_all); a change of sort, filters, search or size starts again at
        the first row."""
        state = replace(self, **changes)
        params: list[tuple[str, str | int]] = [*state._rows_params()]
        if state.search_all and state.search:
            params.append((ALL_PARAM, 1))
        if state.size != state.default_size:
            params.append(("size", state.size))
        if state.facets:
            params.append((FACETS_PARAM, 1))
        if state.edit:
            params.append((EDIT_PARAM, 1))
        if state.cursor:
            params.append((CURSOR_PARAM, state.cursor))
        elif state.page > 1:
            params.append(("page", state.page))
        return table_url(self.info.name, params)

    def export_href(self, format_name: str) -> str:
        """The URL that downloads every row of this view (its search, filters and order)."""
        return export_url(self.info.name, format_name, self._rows_params())

    def _rows_params(self) -> list[tuple[str, str]]:
        """The query parameters that choose the view's rows and their order (the search
        as `q`; a filter's name always holds `__`)."""
        params: list[tuple[str, str]] = []
        if self.search:
            params.append(("q", self.search))
        for item in self.filters:
            params.append((item.param, item.text))
        sort_param = self.sort.param if self.sort else ""
        if sort_param != self.default_sort:
            params.append(("sort", sort_param))
        return params

    def offset_allowed(self, page: int) -> bool:
        """Whether page number `page` is within the rows OFFSET may skip."""
        return (page - 1) * self.size <= MAX_OFFSET_ROWS

    def first_page(self, **changes: Any) -> str:
        return self.href(page=1, cursor=None, **changes)

    def without_filter(self, item: Filter) -> str:
        return self.first_page(filters=tuple(f for f in self.filters if f is not item))

    def hidden_inputs(self, *, keep_search: bool = True) -> list[tuple[str, str]]:
        """The view as form fields, for the search and filter forms (GET)."""
        fields = [field for field in self._rows_params() if keep_search or field[0] != "q"]
        if self.size != self.default_size:
            fields.append(("size", str(self.size)))
        if self.edit:
            fields.append((EDIT_PARAM, "1"))
        return fields


def parse_table_state(
    info: TableInfo,
    query: MultiMapping[str],
    settings: Settings,
    *,
    problems: list[str] | None = None,
) -> TableState:
    """The view a table page URL asks for; anything malformed is a 400, except a bad filter
    when `problems` is given: it is left out of the view and its reason added there."""
    default_size = info.options.page_size or settings.page_size
    size = parse_positive(query.get("size"), "size", default_size, settings.max_page_size)
    page = parse_positive(query.get("page"), "page", 1, MAX_PAGE_NUMBER)
    cursor = query.get(CURSOR_PARAM) or None
    if cursor is not None and "page" in query:
        raise BadRequest("A page link carries either page or cursor, not both.")
    if (page - 1) * size > MAX_OFFSET_ROWS:
        raise BadRequest(deep_page_message())
    default_sort = info.options.sort or ""
    raw_sort = query.get("sort")
    sort = parse_sort(info, default_sort if raw_sort is None else raw_sort)
    return TableState(
        info=info,
        sort=sort,
        default_sort=default_sort,
        size=size,
        default_size=default_size,
        filters=tuple(parse_filters(info, query.items(), problems=problems)),
        search=parse_search(query.get("q")),
        page=page,
        cursor=cursor,
        facets=query.get(FACETS_PARAM) == "1",
        edit=query.get(EDIT_PARAM) == "1",
        search_all=query.get(ALL_PARAM) == "1",
    )


def parse_positive(raw: str | None, name: str, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise BadRequest(f"{name} must be a whole number from 1 to {maximum:,}, not {raw[:40]!r}.")
    return value


def added_filter_href(
    state: TableState, query: MultiMapping[str], *, problems: list[str] | None = None
) -> str | None:
    """The filter form's submission (filter_column, filter_op, filter_value) turned into the
    canonical `column__op=value` URL to redirect to; None when the form was not used, or
    when the filter is bad and `problems` takes its reason (as in parse_table_state)."""
    name = query.get("filter_column")
    if name is None:
        return None
    op = query.get("filter_op") or "exact"
    seen = len(problems) if problems is not None else 0
    added = parse_filters(
        state.info, [(f"{name}__{op}", query.get("filter_value", ""))], problems=problems
    )
    if problems is not None and len(problems) > seen:
        return None
    return state.first_page(filters=(*state.filters, *added))
