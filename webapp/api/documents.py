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


JSON_SAFE = 2**53


class RowWriter:
    """Rows as JSON objects by column name, each value typed by its column's kind
    (`ValueKind.api_value`), made once per table and role: the values a kind writes as
    they are (`api_plain`) skip the call, since this runs for every value of a page."""

    def __init__(self, columns: Sequence[Column]) -> None:
        kinds = [kind_for(column) for column in columns]
        self.names = [column.name for column in columns]
        self.writers = [(kind.api_plain, kind.api_plain_ints, kind.api_value) for kind in kinds]

    def __call__(self, values: Sequence[Any]) -> dict[str, Any]:
        document = {}
        for name, value, (plain, plain_ints, write) in zip(
            self.names, values, self.writers, strict=False
        ):
            kind = type(value)
            if kind in plain or (kind is int and plain_ints and -JSON_SAFE <= value <= JSON_SAFE):
                document[name] = value
            else:
                document[name] = write(value)
        return document


def record_values(info: TableInfo, row: Mapping[str, Any]) -> dict[str, Any]:
    """The columns the role sees of a row read by name (a record, a write's result)."""
    writer = info.derived("api-row", lambda: RowWriter(info.columns))
    return writer([row[column.name] for column in info.columns])


def key_parts(info: TableInfo, row: Mapping[str, Any]) -> list[str]:
    return [key_text(row[column.name]) for column in info.primary_key]


def count_document(count: RowCount | None) -> dict[str, Any]:
    """A count and how far to trust it: exact, estimate, at_least or unknown."""
    if count is None:
        return {"value": None, "kind": "unknown"}
    value = None if count.kind == "unknown" else count.value
    return {"value": value, "kind": count.kind}
