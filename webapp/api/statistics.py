"""`/api/t/<table>/stats/<column>`: the statistics page's twin. The same numbers, computed
(or taken from the same short-lived cache) exactly as the page does, each bar and common
value with the filters that find its rows and the links to them: `href` the table page's,
`rows_href` the API's page of those rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from webapp.api.documents import API, json_response
from webapp.listing.statistics import Bar, ColumnStatistics
from webapp.schema.catalog import str_type
from webapp.views.statistics import request_statistics


async def api_column_statistics(request: web.Request) -> web.Response:
    """The statistics; past the time limit `computed` is false and the numbers absent."""
    view = await request_statistics(request)
    if view.stats is None:
        document: dict[str, Any] = {
            "computed": False,
            "column": view.column.name,
            "type": str_type(view.column.type),
            "notes": [f"Not computed: counting took longer than {view.time_limit} s."],
        }
    else:
        document = statistics_document(view.stats)
    return json_response(document)


def statistics_document(stats: ColumnStatistics) -> dict[str, Any]:
    """The statistics as the JSON API writes them."""

    def bars(items: Sequence[Bar]) -> list[dict[str, Any]]:
        return [
            {
                "label": bar.label,
                "count": bar.count,
                "filters": dict(bar.params) if bar.params else None,
                "href": bar.href,
                "rows_href": API + bar.href if bar.href else None,
                **(
                    {"low": bar.low, "high": bar.high, "high_included": bar.last}
                    if bar.low is not None
                    else {}
                ),
            }
            for bar in items
        ]

    return {
        "computed": True,
        "column": stats.column,
        "type": stats.type,
        "rows": stats.rows,
        "sampled": stats.sampled,
        "nulls": stats.nulls,
        "nulls_href": stats.null_href,
        "nulls_rows_href": API + stats.null_href if stats.null_href else None,
        "distinct": stats.distinct,
        "min": stats.minimum,
        "max": stats.maximum,
        "histogram": {"unit": stats.unit, "bins": bars(stats.histogram)}
        if stats.histogram
        else None,
        "top_values": bars(stats.top_values) if stats.top_values else None,
        "notes": stats.notes,
    }
