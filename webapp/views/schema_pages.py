"""The schema pages: `/t/<table>/schema` for one table or view (with the database's own
DDL) and `/schema` for every one the role sees, each with its JSON twin under `/api/`.
What they show is read from the database on each request (schema.description), narrowed
by the role's rules as every other page is."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from webapp.accounts.roles import request_catalog
from webapp.schema.description import TableDescription, describe_tables
from webapp.views.common import connection
from webapp.web.urls import schema_url, table_url


async def table_schema_page(request: web.Request) -> web.Response:
    descriptions = await request_descriptions(request, one_table=True)
    info = descriptions[0].info
    context = {
        "title": f"{info.name}: schema",
        "crumbs": [(info.name, table_url(info.name)), ("schema", None)],
        "descriptions": [description_document(d) for d in descriptions],
        "one_table": True,
    }
    return aiohttp_jinja2.render_template("schema.html", request, context)


async def schema_page(request: web.Request) -> web.Response:
    descriptions = await request_descriptions(request, one_table=False)
    context = {
        "title": "Schema",
        "crumbs": [("schema", None)],
        "descriptions": [description_document(d) for d in descriptions],
        "one_table": False,
    }
    return aiohttp_jinja2.render_template("schema.html", request, context)


async def request_descriptions(request: web.Request, *, one_table: bool) -> list[TableDescription]:
    """The table the URL names (with its DDL), or every table and view of the role's
    catalog (without: each one's own page has it)."""
    catalog = request_catalog(request)
    if one_table:
        infos = [catalog.by_slug(request.match_info["table"])]
    else:
        infos = sorted(catalog, key=lambda info: info.name)
    conn = await connection(request)
    return await describe_tables(conn, catalog, infos, ddl=one_table)


def description_document(description: TableDescription) -> dict[str, Any]:
    """A table's description as plain data: the page's context and the API's document."""
    info = description.info
    return {
        "name": info.name,
        "schema": info.schema,
        "is_view": info.is_view,
        "href": table_url(info.name),
        "schema_href": schema_url(info.name),
        "columns": [asdict(column) for column in description.columns],
        "primary_key": {"name": description.primary_key_name, "columns": description.primary_key}
        if description.primary_key
        else None,
        "indexes": description.indexes,
        "unique_constraints": description.unique_constraints,
        "check_constraints": description.check_constraints,
        "foreign_keys": [
            {**key, "href": schema_url(key["table"])} for key in description.foreign_keys
        ],
        "referenced_by": [
            {**key, "href": schema_url(key["table"])} for key in description.referenced_by
        ],
        "ddl": description.ddl,
        "ddl_note": description.ddl_note,
    }
