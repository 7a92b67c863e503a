"""The index page: every table and view with its row count, those of the default schema
first, then one section per other schema."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from webapp.accounts.roles import request_catalog
from webapp.listing.counts import ALL_TABLES, RowCount, catalog_row_counts
from webapp.views.common import connection
from webapp.web.appkeys import CATALOG, INDEX_COUNTS
from webapp.web.urls import table_url


@aiohttp_jinja2.template("index.html")
async def index_page(request: web.Request) -> dict[str, Any]:
    catalog = request_catalog(request)
    counts = await index_counts(request)
    entries = [
        {
            "name": info.name,
            "href": table_url(info.name),
            "is_view": info.is_view,
            "columns": len(info.columns),
            "count": counts.get(info.name),
            "has_key": bool(info.primary_key),
            "schema": info.schema,
            "short_name": info.table.name,
        }
        for info in catalog
    ]
    default = [entry for entry in entries if entry["schema"] is None]
    return {
        "tables": [entry for entry in default if not entry["is_view"]],
        "views": [entry for entry in default if entry["is_view"]],
        "schemas": _by_schema([entry for entry in entries if entry["schema"] is not None]),
        "unreadable": sorted(catalog.unreadable.items()),
    }


async def index_counts(request: web.Request) -> dict[str, RowCount]:
    """Every table's count (an estimate for a big one), cached a few seconds; counted over
    every table any role sees, so the one cache serves all roles."""
    cache = request.app[INDEX_COUNTS]
    counts = cache.get(ALL_TABLES)
    if counts is None:
        counts = await catalog_row_counts(await connection(request), request.app[CATALOG])
        cache.put(ALL_TABLES, counts)
    return counts


def _by_schema(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tables and views of the other schemas, one section per schema, by name."""
    schemas: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        schemas.setdefault(entry["schema"], []).append(entry)
    return [{"name": name, "tables": schemas[name]} for name in sorted(schemas, key=str.lower)]
