"""A column's statistics page, `/t/<table>/stats/<column>`: the numbers of the rows the
table view selects (its search and filters kept from the query string), a histogram or the
most common values drawn as SVG in the server (no script), and the same as a table. Worked
out in a slot of the expensive share of the pool under its time limit, and kept a few
seconds per role and view."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import Column
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.accounts.roles import request_catalog
from webapp.listing.filters import Filter
from webapp.listing.statistics import (
    Bar,
    ColumnStatistics,
    column_statistics,
)
from webapp.listing.table_state import TableState, parse_table_state
from webapp.schema.catalog import TableInfo, str_type
from webapp.views.common import request_dialect, request_role
from webapp.views.table import comparable_filters, view_conditions
from webapp.web.appkeys import COLUMN_STATISTICS, EXPENSIVE_QUERIES, SETTINGS
from webapp.web.errors import BadRequest, NotFound, TooSlow
from webapp.web.urls import UrlDecodeError, tilde_decode


@dataclass(frozen=True)
class StatisticsView:
    """What a statistics request asks for, and the answer (None: not computed in time)."""

    info: TableInfo
    column: Column
    state: TableState
    stats: ColumnStatistics | None
    time_limit: float


async def statistics_page(request: web.Request) -> web.Response:
    view = await request_statistics(request)
    context = {
        "info": view.info,
        "column": view.column.name,
        "type": str_type(view.column.type),
        "stats": view.stats,
        "time_limit": view.time_limit,
        "table_href": view.state.first_page(),
        "narrowed": view.state.narrowed,
        "histogram": histogram_chart(view.stats.histogram) if view.stats else None,
        "top_chart": top_values_chart(view.stats.top_values) if view.stats else None,
    }
    return aiohttp_jinja2.render_template("stats.html", request, context)


async def request_statistics(request: web.Request) -> StatisticsView:
    """The statistics the request asks for, from the cache or computed now. A hidden or
    unknown column is a 404, a bad filter a 400; past the time limit, None."""
    settings = request.app[SETTINGS]
    info = request_catalog(request).by_slug(request.match_info["table"])
    try:
        name = tilde_decode(request.match_info["column"])
    except UrlDecodeError:
        raise NotFound("No such column.") from None
    column = info.column(name)
    if column is None:
        raise NotFound(f"{info.name!r} has no column {name!r}.")
    problems: list[str] = []
    state = parse_table_state(info, request.query, settings)
    dialect = request_dialect(request)
    state = comparable_filters(state, dialect, problems)
    if problems:
        raise BadRequest(" ".join(problems))
    where, _search = view_conditions(state, dialect)

    def link(filters: Sequence[Filter]) -> str:
        return state.first_page(filters=(*state.filters, *filters))

    async def compute(conn: AsyncConnection) -> ColumnStatistics:
        return await column_statistics(conn, info, column, where, link)

    expensive = request.app[EXPENSIVE_QUERIES]
    key: Hashable = ("stats", request_role(request), state.href(), column.name)
    cache = request.app[COLUMN_STATISTICS]
    stats = cache.get(key)
    if stats is None:
        try:
            stats = await expensive.run(key, compute)
        except TooSlow:
            stats = None
        else:
            cache.put(key, stats)
    return StatisticsView(info, column, state, stats, expensive.time_limit)


# The charts' drawing area, in SVG user units (the SVG scales to the page's width).
CHART_WIDTH = 640
HISTOGRAM_HEIGHT = 180
BAR_ROW_HEIGHT = 22
LABEL_WIDTH = 190


@dataclass(frozen=True)
class ChartBar:
    """One bar as drawn: its box, its text and where it links."""

    x: float
    y: float
    width: float
    height: float
    label: str
    count: int
    href: str | None


def histogram_chart(bars: Sequence[Bar]) -> dict[str, Any] | None:
    """Vertical bars side by side, heights in proportion to the counts."""
    if not bars:
        return None
    top = max(bar.count for bar in bars) or 1
    # Room above the tallest bar for its count, written at the top left.
    left, top_margin, base = 8.0, 18.0, float(HISTOGRAM_HEIGHT)
    slot = (CHART_WIDTH - 2 * left) / len(bars)
    gap = min(4.0, slot / 5)
    drawn = []
    for index, bar in enumerate(bars):
        height = (base - top_margin) * bar.count / top
        drawn.append(
            ChartBar(
                round(left + index * slot + gap / 2, 2),
                round(base - height + 4, 2),
                round(slot - gap, 2),
                round(max(height, 0.0), 2),
                bar.label,
                bar.count,
                bar.href,
            )
        )
    return {
        "width": CHART_WIDTH,
        "height": HISTOGRAM_HEIGHT + 40,
        "base": base + 4,
        "bars": drawn,
        "first": bars[0].label,
        "last": bars[-1].label,
        "top": top,
    }


def top_values_chart(bars: Sequence[Bar]) -> dict[str, Any] | None:
    """Horizontal bars, one row per value, lengths in proportion to the counts."""
    if not bars:
        return None
    top = max(bar.count for bar in bars) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 70
    drawn = [
        ChartBar(
            LABEL_WIDTH,
            index * BAR_ROW_HEIGHT + 3,
            round(max(room * bar.count / top, 1.0), 2),
            BAR_ROW_HEIGHT - 6,
            short_label(bar.label),
            bar.count,
            bar.href,
        )
        for index, bar in enumerate(bars)
    ]
    return {"width": CHART_WIDTH, "height": len(bars) * BAR_ROW_HEIGHT, "bars": drawn}


def short_label(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
