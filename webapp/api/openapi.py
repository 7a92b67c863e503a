"""`/api/openapi.json`: an OpenAPI 3.1 description of the API as the caller's role sees it,
made from its catalog (a hidden table or column is not in it): each table's columns with
their JSON types (as `ValueKind.api_value` writes them), its filters, and the operations
the role may use on it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import Column

from webapp.accounts.roles import request_catalog, write_refusal
from webapp.api.documents import api_table_url, json_response
from webapp.listing.filters import operators_for
from webapp.schema.catalog import TableInfo, str_type
from webapp.values import kind_for
from webapp.web.session_cookie import SESSION_COOKIE

# JSON Schema of a value by the form parser of its column's kind.
VALUE_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": ["integer", "string"], "description": "beyond ±2**53 as its digits"},
    "float": {"type": ["number", "string"], "description": "NaN and infinities as text"},
    "decimal": {"type": "string", "description": "the exact digits"},
    "bool": {"type": "boolean"},
    "binary": {"type": "string", "contentEncoding": "base64"},
    "json": {"description": "a JSON document"},
    "date": {"type": "string", "description": "YYYY-MM-DD"},
    "datetime": {"type": "string", "description": "YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]"},
    "time": {"type": "string"},
    "interval": {"type": "string"},
    "uuid": {"type": "string", "format": "uuid"},
    "text": {"type": "string"},
}
PAGE_PARAMETERS = [
    ("q", "Search the table's text columns."),
    ("sort", "A column to sort by; `-column` for descending."),
    ("size", "Rows per page."),
    ("page", "Page number (OFFSET paging; prefer the `next` link)."),
    ("cursor", "The keyset cursor of a `next`, `prev` or `continue` link."),
    (
        "all",
        "`1`: a search no FULLTEXT index answers reads every remaining row at once, instead "
        "of at most `pages.search_chunk_rows` rows (then `searched` and `links.continue`).",
    ),
]
LINK = {"type": ["string", "null"]}
SEARCHED = {
    "type": ["object", "null"],
    "description": "How far a search no index answers read when it stopped before the "
    "table's last row (null otherwise): follow `links.continue` to read on, or "
    "`links.all` to read every remaining row at once.",
    "properties": {
        "rows": {"type": "integer", "description": "rows read by this request"},
        "through": {
            "type": ["integer", "null"],
            "description": "rows 1 to N of the table, in key order, read so far (null when "
            "the walk went on from a `next` link)",
        },
        "of": {"type": "object", "description": "the table's count: value and kind"},
        "found": {"type": "boolean", "description": "whether the walk found any row yet"},
        "text": {"type": "string"},
    },
}
PROBLEM = {"$ref": "#/components/responses/Problem"}


async def openapi_document(request: web.Request) -> web.Response:
    catalog = request_catalog(request)
    paths: dict[str, Any] = {
        "/api/": {"get": operation("The tables and views, with their counts.", "Index")},
        "/api/activity": {"get": operation("The latest changes, newest first.", "Activity")},
        "/api/schema": {"get": operation("Every table's columns, keys and constraints.", "Schema")},
    }
    schemas: dict[str, Any] = {}
    for number, info in enumerate(catalog):
        name = f"Table{number}"
        schemas[name] = row_schema(info)
        paths.update(table_paths(info, name, write_refusal(request, info) is None))
    return json_response(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "webapp API",
                "version": "1",
                "description": "The tables, records and changes the caller's role may see.",
            },
            "servers": [{"url": "/"}],
            "security": [{"bearer": []}, {"cookie": []}],
            "paths": paths,
            "components": {
                "schemas": {**schemas, "Problem": PROBLEM_SCHEMA},
                "responses": {
                    "Problem": {
                        "description": "An RFC 9457 problem",
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
                        },
                    }
                },
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                },
            },
        }
    )


def table_paths(info: TableInfo, schema_name: str, writable: bool) -> dict[str, Any]:
    """The table's operations: its rows, and (with a primary key) its records."""
    base = api_table_url(info.name)
    row = {"$ref": f"#/components/schemas/{schema_name}"}
    page = {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": row},
            "searched": SEARCHED,
            "links": {
                "type": "object",
                "properties": {
                    name: LINK
                    for name in ("self", "next", "prev", "first", "continue", "all", "html")
                },
            },
        },
    }
    table_item: dict[str, Any] = {
        "get": {
            **operation(f"A page of rows of {info.name!r}.", f"{schema_name}Page", schema=page),
            "parameters": page_parameters(info),
        }
    }
    paths = {base: table_item}
    paths[f"{base}/schema"] = {
        "get": operation(
            f"The columns, keys, constraints and DDL of {info.name!r}.", f"{schema_name}Schema"
        )
    }
    column = {
        "name": "column",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": [c.name for c in info.columns]},
    }
    paths[f"{base}/stats/{{column}}"] = {
        "get": {
            **operation(
                "A column's statistics over the rows the search and filters find.",
                f"{schema_name}Statistics",
            ),
            "parameters": [column, *page_parameters(info)],
        }
    }
    if not info.primary_key:
        return paths
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    record = {"type": "object", "properties": {"values": row, "key": {"type": "array"}}}
    record_item: dict[str, Any] = {
        "parameters": [key],
        "get": operation(f"One record of {info.name!r}.", f"{schema_name}Record", schema=record),
    }
    if writable:
        body = {"required": True, "content": {"application/json": {"schema": row}}}
        table_item["post"] = {
            **operation("Create a record.", f"{schema_name}Create", schema=record, status="201"),
            "requestBody": body,
        }
        if_match = {
            "name": "If-Match",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
        }
        record_item["patch"] = {
            **operation("Change a record.", f"{schema_name}Update", schema=record),
            "requestBody": body,
            "parameters": [if_match],
        }
        record_item["delete"] = {
            **operation("Delete a record.", f"{schema_name}Delete", status="204"),
            "parameters": [if_match],
        }
    paths[f"{base}/r/{{key}}"] = record_item
    paths[f"{base}/r/{{key}}/history"] = {
        "parameters": [key],
        "get": operation("The record's latest changes.", f"{schema_name}History"),
    }
    return paths


def operation(
    summary: str, operation_id: str, *, schema: dict[str, Any] | None = None, status: str = "200"
) -> dict[str, Any]:
    """An operation answering `status` with a JSON `schema` (an object when not given;
    nothing for 204), or a problem document for any 4xx."""
    success: dict[str, Any] = {"description": "OK"}
    if status != "204":
        success["content"] = {"application/json": {"schema": schema or {"type": "object"}}}
    return {
        "summary": summary,
        "operationId": operation_id,
        "responses": {status: success, "4XX": PROBLEM},
    }


def row_schema(info: TableInfo) -> dict[str, Any]:
    return {
        "type": "object",
        "title": str(info.name),
        "properties": {column.name: column_schema(column) for column in info.columns},
    }


def column_schema(column: Column) -> dict[str, Any]:
    schema = dict(VALUE_SCHEMAS.get(kind_for(column).parse_as, {}))
    schema["description"] = " ".join(
        part for part in (str_type(column.type), schema.get("description", "")) if part
    )
    choices = getattr(kind_for(column), "choices", ())
    if choices:
        schema["enum"] = [*choices, *([None] if column.nullable else [])]
    if column.nullable and "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*types, "null"]
    return schema


def page_parameters(info: TableInfo) -> list[dict[str, Any]]:
    parameters = [
        {"name": name, "in": "query", "description": text, "schema": {"type": "string"}}
        for name, text in PAGE_PARAMETERS
    ]
    for column in info.columns:
        for op in operators_for(column):
            parameters.append(
                {
                    "name": f"{column.name}__{op}",
                    "in": "query",
                    "description": f"Filter: {column.name} {op}",
                    "schema": {"type": "string"},
                }
            )
    return parameters


PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
