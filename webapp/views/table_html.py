"""The table page's pieces of HTML written in Python rather than in its template: the
column headings (links that depend on the view) and the filter form's lists (the same for
every page of a table and role). Each is worked out once where it can be, through
`TableInfo.derived`; a Jinja2 loop over them on every request cost more than the rows'
database round trip."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup
from sqlalchemy import Column

from webapp.listing.filters import OPERATORS, filter_choices
from webapp.listing.queries import parse_sort, sortable
from webapp.listing.rows_html import escape
from webapp.listing.table_state import TableState
from webapp.schema.catalog import TableInfo, str_type
from webapp.schema.titles import column_title
from webapp.web.urls import column_statistics_url


def page_headings_html(info: TableInfo, state: TableState) -> Markup:
    """`headings_html`, kept per order for the plain views of a table (no filter, no
    search, the default page size, the table's own columns): their links depend on nothing
    else."""
    if state.narrowed or state.size != state.default_size or state.columns is not None:
        return headings_html(info, state)
    sort = state.sort.param if state.sort is not None else ""
    return info.derived(("headings-html", sort, state.facets), lambda: headings_html(info, state))


def headings_html(info: TableInfo, state: TableState) -> Markup:
    """Each listed column's `<th>`: a sortable one links to ascending order, or to
    descending when it is already the ascending sort; the sorted one says so. Each links
    to its column's statistics over the view's rows."""
    sort = state.sort
    view = [("q", state.search)] if state.search else []
    view += [(item.param, item.text) for item in state.filters]
    parts = []
    listed = (
        info.derived("headings", lambda: headings(info, info.list_columns))
        if state.columns is None
        else headings(info, state.columns)
    )
    for column, name, shown, title, can_sort in listed:
        current = sort is not None and sort.column is column
        attributes = ""
        if current and sort is not None:
            direction, aria = ("desc", "descending") if sort.descending else ("asc", "ascending")
            attributes = f' class="sorted-{direction}" aria-sort="{aria}"'
        if can_sort:
            target = "-" + column.name if current and sort and not sort.descending else column.name
            href = escape(state.first_page(sort=parse_sort(info, target)))
            inner = f'<a href="{href}" title="{name} · {title}: sort">{shown}</a>'
        else:
            inner = f'<span title="{name} · {title}">{shown}</span>'
        if column.primary_key:
            inner += ' <abbr class="key" title="primary key">PK</abbr>'
        stats_href = escape(column_statistics_url(info.name, column.name, view))
        inner += (
            f' <a class="stats-link" href="{stats_href}" title="Statistics of {name}"'
            f' aria-label="Statistics of {name}">Σ</a>'
        )
        parts.append(f"<th{attributes}>{inner}</th>\n")
    return Markup("".join(parts))


def headings(
    info: TableInfo, columns: Sequence[Column]
) -> list[tuple[Column, str, str, str, bool]]:
    """Per listed column (of `columns`): the column, its name, readable title and type
    escaped, whether it can be sorted on (what the headings take from the catalog alone;
    naming a type compiles it). The heading shows the title; the raw name is in its tooltip."""
    return [
        (
            column,
            escape(str(column.name)),
            escape(column_title(column.name, reference=info.relation_for(column.name) is not None)),
            escape(str_type(column.type)),
            sortable(column),
        )
        for column in columns
    ]


def filter_options_html(request: web.Request, info: TableInfo) -> Markup:
    """The filter form's lists of columns and operators for `info` (the same on every page
    of the table for a role, so worked out once); empty when no column can be filtered."""
    choices = filter_choices(info)
    if not choices:
        return Markup("")
    macros = aiohttp_jinja2.get_env(request.app).get_template("_macros.html").module
    # A template's macros are attributes Jinja2 makes at run time.
    return Markup(macros.filter_options(choices, OPERATORS))  # type: ignore[attr-defined]
