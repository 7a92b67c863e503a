"""What the JSON API's answers are made of: typed rows (each value through its column's
kind, as `ValueKind.api_value` writes it), counts, links, and the JSON response itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import Column

from webapp.listing.counts import RowCount
from webapp.schema.catalog import TableInfo
from webapp.values import key_text, kind_for
from webapp.web.problems import json_bytes
from webapp.web.urls import record_url, table_url

API = "/api"


def json_response(
    document: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json_bytes(document),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def api_table_url(table_name: str, params: Sequence[tuple[str, str | int]] = ()) -> str:
    return API + table_url(table_name, params)


def api_record_url(table_name: str, key_parts: Sequence[str]) -> str:
    return API + record_url(table_name, key_parts)


def row_values(columns: Sequence[Column], values: Sequence[Any]) -> dict[str, Any]:
    """A row as a JSON object by column name, each value typed by its column's kind."""
    return {
        column.name: kind_for(column).api_value(value)
        for column, value in zip(columns, values, strict=True)
    }


def record_values(info: TableInfo, row: Mapping[str, Any]) -> dict[str, Any]:
    """The columns the role sees of a row read by name (a record, a write's result)."""
    return {column.name: kind_for(column).api_value(row[column.name]) for column in info.columns}


def key_parts(info: TableInfo, row: Mapping[str, Any]) -> list[str]:
    return [key_text(row[column.name]) for column in info.primary_key]


def count_document(count: RowCount | None) -> dict[str, Any]:
    """A count and how far to trust it: exact, estimate, at_least or unknown."""
    if count is None:
        return {"value": None, "kind": "unknown"}
    value = None if count.kind == "unknown" else count.value
    return {"value": value, "kind": count.kind}
