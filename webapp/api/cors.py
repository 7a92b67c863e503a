"""Cross-origin calls to the JSON API, only from the origins `api.cors_origins` lists:
such a browser script may send an API token (never the session cookie: no
Access-Control-Allow-Credentials) and read the answer. Without the setting, no CORS header
is ever sent and browsers keep other sites out."""

from __future__ import annotations

from aiohttp import web

from webapp.web.appkeys import SETTINGS
from webapp.web.errors import Handler
from webapp.web.problems import is_api

ALLOWED_METHODS = "GET, HEAD, POST, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, X-Query-Trace"
EXPOSED_HEADERS = "ETag, Location, X-Query-Trace"
PREFLIGHT_SECONDS = "600"


def allowed_origin(request: web.Request) -> str | None:
    """The request's Origin when it may call the API across sites, else None."""
    origin = request.headers.get("Origin")
    if origin is None or not is_api(request):
        return None
    return origin if origin.lower() in request.app[SETTINGS].api.cors_origins else None


@web.middleware
async def cors_preflight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a listed origin's preflight (OPTIONS) before sign-in, which it never carries."""
    if (
        request.method == "OPTIONS"
        and "Access-Control-Request-Method" in request.headers
        and allowed_origin(request) is not None
    ):
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_SECONDS,
            },
        )
    return await handler(request)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: a listed origin may read every API answer, errors included."""
    if not is_api(request):
        return
    response.headers.setdefault("Vary", "Origin")
    origin = allowed_origin(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
