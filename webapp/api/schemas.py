"""`/api/schema` and `/api/t/<table>/schema`: the schema pages' twins, the same documents
the pages render (columns, keys, indexes, constraints, and for one table its DDL)."""

from __future__ import annotations

from aiohttp import web

from webapp.api.documents import json_response
from webapp.views.schema_pages import description_document, request_descriptions


async def api_table_schema(request: web.Request) -> web.Response:
    descriptions = await request_descriptions(request, one_table=True)
    return json_response(description_document(descriptions[0]))


async def api_schema(request: web.Request) -> web.Response:
    descriptions = await request_descriptions(request, one_table=False)
    return json_response({"tables": [description_document(d) for d in descriptions]})
