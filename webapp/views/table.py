"""The table page: one page of rows, sortable by any column, with links to each record
and to the records its foreign keys point at."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ..catalog import TableInfo
from ..counts import RowCount, table_row_count
from ..decoding import fetch_rows
from ..errors import BadRequest
from ..fields import Cell, key_text
from ..keys import CATALOG, SETTINGS
from ..permissions import write_refusal
from ..queries import ListPlan, SortKey, list_plan, page_statement, parse_sort, sortable
from ..urls import record_url, table_url
from .common import connection

MAX_PAGE_NUMBER = 1_000_000


@aiohttp_jinja2.template("table.html")
async def table_page(request: web.Request) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    info = request.app[CATALOG].by_slug(request.match_info["table"])
    size = parse_positive(
        request.query.get("size"), "size", settings.page_size, settings.max_page_size
    )
    page = parse_positive(request.query.get("page"), "page", 1, MAX_PAGE_NUMBER)
    sort = parse_sort(info, request.query.get("sort"))

    conn = await connection(request)
    plan, expressions = list_plan(info, conn.dialect)
    statement = page_statement(info, expressions, sort, offset=(page - 1) * size, limit=size + 1)
    rows = await fetch_rows(conn, statement, expressions)
    has_next = len(rows) > size
    rows = rows[:size]
    if page == 1 and not has_next:
        count = RowCount(len(rows), "exact")
    else:
        count = await table_row_count(conn, info)

    def link(**changes: str | int | None) -> str:
        query = {
            "sort": sort.param if sort else None,
            "size": size if size != settings.page_size else None,
            "page": page,
        }
        query.update(changes)
        if query.get("page") == 1:
            query["page"] = None
        return table_url(info.name, **{k: v for k, v in query.items() if v is not None})

    return {
        "info": info,
        "write_refusal": write_refusal(request, info),
        "headers": headers(info, sort, link),
        "rows": [render_row(info, plan, row) for row in rows],
        "page": page,
        "size": size,
        "first_row": (page - 1) * size + 1,
        "count": count,
        "previous_href": link(page=page - 1) if page > 1 else None,
        "next_href": link(page=page + 1) if has_next else None,
        "first_href": link(page=1) if page > 1 else None,
    }


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


def headers(info: TableInfo, sort: SortKey | None, link: Any) -> list[dict[str, Any]]:
    """Each column's heading; a sortable one links to ascending order, or to descending
    when it is already the ascending sort."""
    out = []
    for column in info.columns:
        current = sort is not None and sort.column is column
        direction = ("desc" if sort.descending else "asc") if current and sort else None
        href = None
        if sortable(column):
            target = "-" + column.name if current and sort and not sort.descending else column.name
            href = link(sort=target, page=1)
        out.append(
            {
                "name": column.name,
                "type": str_type(column.type),
                "href": href,
                "direction": direction,
                "is_key": column.primary_key,
            }
        )
    return out


def render_row(info: TableInfo, plan: ListPlan, row: Sequence[Any]) -> dict[str, Any]:
    cells = plan.cells(row)
    names = [column.column.name for column in plan.columns]
    for relation in info.outgoing:
        values = [plan.value(row, name) for name in relation.columns]
        if any(value is None for value in values):
            continue
        href = record_url(relation.target, [key_text(value) for value in values])
        for name in relation.columns:
            index = names.index(name)
            if cells[index].href is None:
                cells[index] = cells[index].linked(href)
    href = None
    if info.primary_key:
        href = record_url(info.name, [key_text(value) for value in plan.key_values(row)])
    return {"cells": cells, "href": href}


def str_type(type_: Any) -> str:
    try:
        return str(type_)
    except Exception:
        return type(type_).__name__


__all__ = ["Cell", "table_page"]
