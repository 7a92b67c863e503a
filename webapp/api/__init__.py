"""The JSON API: under `/api/`, the pages' twins (the index, a table's rows, a record, its
history, the activity) and writes through the forms' write path, described by an OpenAPI
document of the caller's own catalog. Errors are `application/problem+json`
(webapp.web.problems)."""

from __future__ import annotations

from aiohttp import web

from webapp.api import activity, openapi, records, schemas, statistics, tables


def setup_api_routes(app: web.Application) -> None:
    app.router.add_get("/api/", tables.api_index, name="api_index")
    app.router.add_get("/api/openapi.json", openapi.openapi_document, name="api_openapi")
    app.router.add_get("/api/activity", activity.api_activity, name="api_activity")
    table = app.router.add_resource("/api/t/{table}", name="api_table")
    table.add_route("HEAD", tables.api_table)
    table.add_route("GET", tables.api_table)
    table.add_route("POST", records.api_create)
    record = app.router.add_resource("/api/t/{table}/r/{key}", name="api_record")
    record.add_route("HEAD", records.api_record)
    record.add_route("GET", records.api_record)
    record.add_route("PATCH", records.api_update)
    record.add_route("DELETE", records.api_delete)
    app.router.add_get("/api/schema", schemas.api_schema, name="api_schema")
    app.router.add_get("/api/t/{table}/schema", schemas.api_table_schema, name="api_table_schema")
    app.router.add_get(
        "/api/t/{table}/stats/{column}",
        statistics.api_column_statistics,
        name="api_column_statistics",
    )
    app.router.add_get("/api/t/{table}/r/{key}/history", activity.api_history, name="api_history")
