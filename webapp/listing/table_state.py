"""What a table page's URL asks for (sort, size, filters, search, page or cursor), parsed
and checked once, and the URL of any variation of it, so that every link on the page keeps
the rest of the view."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from multidict import MultiMapping
from sqlalchemy import Column

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
LAST_PARAM = "last"  # the last page: a keyset order read backwards from its end
COLUMNS_PARAM = "cols"  # the columns shown, in order, by name: `cols=name,title`
MAX_COLUMNS_TEXT = 20_000


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
    # The columns chosen to be shown, in their order (`cols`); None for the table's own list.
    columns: tuple[Column, ...] | None = None
    last: bool = False  # the last page of the view (`last=1`), in place of page or cursor

    @property
    def listed(self) -> list[Column]:
        """The columns the page lists: the chosen ones, else the table's list."""
        return list(self.columns) if self.columns is not None else self.info.list_columns

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
        facets, edit, columns); a change of sort, filters, search or size starts again at
        the first row. Only a link made with `last=True` goes to the last page."""
        state = replace(self, **{"last": False, **changes})
        params: list[tuple[str, str | int]] = [*state._rows_params(), *state._columns_params()]
        if state.search_all and state.search:
            params.append((ALL_PARAM, 1))
        if state.size != state.default_size:
            params.append(("size", state.size))
        if state.facets:
            params.append((FACETS_PARAM, 1))
        if state.edit:
            params.append((EDIT_PARAM, 1))
        if state.last:
            params.append((LAST_PARAM, 1))
        elif state.cursor:
            params.append((CURSOR_PARAM, state.cursor))
        elif state.page > 1:
            params.append(("page", state.page))
        return table_url(self.info.name, params)

    def export_href(self, format_name: str) -> str:
        """The URL that downloads every row of this view (its search, filters and order)."""
        return export_url(
            self.info.name, format_name, [*self._rows_params(), *self._columns_params()]
        )

    def _columns_params(self) -> list[tuple[str, str]]:
        if self.columns is None:
            return []
        return [(COLUMNS_PARAM, columns_text(self.columns))]

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

    def hidden_inputs(
        self, *, keep_search: bool = True, keep_columns: bool = True
    ) -> list[tuple[str, str]]:
        """The view as form fields, for the search, filter and column forms (GET)."""
        fields = [field for field in self._rows_params() if keep_search or field[0] != "q"]
        if keep_columns:
            fields.extend(self._columns_params())
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
    column_problems: list[str] | None = None,
) -> TableState:
    """The view a table page URL asks for; anything malformed is a 400, except a bad filter
    when `problems` is given: it is left out of the view and its reason added there, and
    likewise a column to show that the table does not have (to `column_problems`, else
    `problems`)."""
    default_size = info.options.page_size or settings.page_size
    size = parse_positive(query.get("size"), "size", default_size, settings.max_page_size)
    page = parse_positive(query.get("page"), "page", 1, MAX_PAGE_NUMBER)
    cursor = query.get(CURSOR_PARAM) or None
    if cursor is not None and "page" in query:
        raise BadRequest("A page link carries either page or cursor, not both.")
    last = query.get(LAST_PARAM) == "1"
    if last and (cursor is not None or "page" in query):
        raise BadRequest("A link to the last page carries no page or cursor.")
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
        last=last,
        columns=parse_columns(
            info,
            query.get(COLUMNS_PARAM),
            problems=column_problems if column_problems is not None else problems,
        ),
    )


def columns_text(columns: Sequence[Column]) -> str:
    """The `cols` value naming `columns` in order: names joined by commas, a comma or
    backslash within a name written after a backslash."""
    return ",".join(column.name.replace("\\", "\\\\").replace(",", "\\,") for column in columns)


def split_column_names(text: str) -> list[str]:
    """The names a `cols` value holds (columns_text read back)."""
    names: list[str] = []
    current: list[str] = []
    characters = iter(text)
    for character in characters:
        if character == "\\":
            current.append(next(characters, ""))
        elif character == ",":
            names.append("".join(current))
            current = []
        else:
            current.append(character)
    names.append("".join(current))
    return [name for name in names if name]


def parse_columns(
    info: TableInfo, raw: str | None, *, problems: list[str] | None = None
) -> tuple[Column, ...] | None:
    """The columns `cols` asks to show, in its order (a name given twice counts once); None
    when it is absent or empty. A name the table does not have, or hides from the role, is
    a 400, or when `problems` is given, left out and said there."""
    if not raw:
        return None
    if len(raw) > MAX_COLUMNS_TEXT:
        raise BadRequest(f"{COLUMNS_PARAM} is too long to name the columns of a table.")
    chosen: list[Column] = []
    unknown: list[str] = []
    for name in split_column_names(raw):
        column = info.column(name)
        if column is None:
            unknown.append(name)
        elif column not in chosen:
            chosen.append(column)
    if unknown:
        message = unknown_columns_message(info, unknown)
        if problems is None:
            raise BadRequest(message)
        problems.append(message)
    return tuple(chosen) or None


def unknown_columns_message(info: TableInfo, names: Sequence[str]) -> str:
    shown = ", ".join(repr(name[:60]) for name in names[:5])
    more = f" and {len(names) - 5:,} more" if len(names) > 5 else ""
    plural = "columns" if len(names) > 1 else "column"
    return f"{info.name!r} has no {plural} {shown}{more} to show."


CHOOSER_FIELD = "columns_form"  # the column chooser's submission: names, places, checks
CHOOSER_NAME, CHOOSER_PLACE, CHOOSER_SHOW = "colname", "colplace", "colshow"


def chosen_columns_href(
    state: TableState, query: MultiMapping[str], *, problems: list[str]
) -> str | None:
    """The column chooser's submission turned into the canonical `cols=...` URL to redirect
    to (no `cols` at all when it chose the table's own list); None when the form was not
    used, or when it is bad and its reason goes to `problems`. The form sends, for every
    column in the order it lists them, its name and the place typed for it; and the names
    of the columns checked to be shown."""
    if CHOOSER_FIELD not in query:
        return None
    info = state.info
    names = query.getall(CHOOSER_NAME, [])
    places = query.getall(CHOOSER_PLACE, [])
    shown = set(query.getall(CHOOSER_SHOW, []))
    ranked: list[tuple[float, int, str]] = []
    for index, name in enumerate(names):
        if name not in shown:
            continue
        text = places[index].strip() if index < len(places) else ""
        try:
            place = float(text) if text else float(index + 1)
            if not math.isfinite(place):
                raise ValueError(text)
        except ValueError:
            problems.append(f"The place of {name!r} must be a number, not {text[:20]!r}.")
            return None
        ranked.append((place, index, name))
    unknown = [name for name in shown if info.column(name) is None]
    if unknown:
        problems.append(unknown_columns_message(info, sorted(unknown)))
        return None
    if not ranked:
        problems.append("Choose at least one column to show.")
        return None
    columns = [info.table.columns[name] for _, _, name in sorted(ranked)]
    chosen = None if columns == info.list_columns else tuple(columns)
    return state.first_page(columns=chosen)


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
