"""`?_trace=1` on any page (or an `X-Query-Trace: 1` request header, for JSON clients) shows
an admin the statements the request ran: below the page, or as a `_trace` list in a JSON
object. Every traced response says how many statements and milliseconds in its
`X-Query-Trace` header. Other roles get the page as it is."""

from __future__ import annotations

import json

import aiohttp_jinja2
from aiohttp import web

from webapp.accounts.roles import has_role
from webapp.accounts.signin import current_user
from webapp.database.trace import TracedStatement, tracing
from webapp.web.appkeys import SETTINGS
from webapp.web.errors import Handler

TRACE_ROLE = "admin"
JSON_TYPES = frozenset({"application/json", "application/problem+json"})
# Statements on these tables of the app's own keep their parameters out of the trace.
PRIVATE_TABLES = ("users", "sign_in_tokens", "api_tokens")


def wants_trace(request: web.Request) -> bool:
    return request.query.get("_trace") == "1" or request.headers.get("X-Query-Trace") == "1"


@web.middleware
async def trace_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not wants_trace(request) or not has_role(current_user(request), TRACE_ROLE):
        return await handler(request)
    with tracing() as statements:
        response = await handler(request)
    _hide_private(request, statements)
    total = sum(statement.milliseconds for statement in statements)
    if not response.prepared:
        response.headers["X-Query-Trace"] = f"{len(statements)} statements; {total:.1f} ms"
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        if response.content_type == "text/html":
            _add_to_page(request, response, statements, total)
        elif response.content_type in JSON_TYPES:
            _add_to_json(response, statements)
    return response


def _hide_private(request: web.Request, statements: list[TracedStatement]) -> None:
    prefix = request.app[SETTINGS].auth.table_prefix
    private = tuple(prefix + name for name in PRIVATE_TABLES)
    for statement in statements:
        if any(name in statement.sql for name in private):
            statement.parameters = "(not shown: account data)" if statement.parameters else ""


def _add_to_page(
    request: web.Request, response: web.Response, statements: list[TracedStatement], total: float
) -> None:
    html = response.text or ""
    block = aiohttp_jinja2.render_string(
        "_trace.html", request, {"statements": statements, "total": total}
    )
    at = html.rfind("</main>")
    response.text = html[:at] + block + html[at:] if at >= 0 else html + block


def _add_to_json(response: web.Response, statements: list[TracedStatement]) -> None:
    try:
        document = json.loads(response.body)  # type: ignore[arg-type]
    except ValueError:
        return
    if not isinstance(document, dict):
        return
    document["_trace"] = [
        {
            "sql": statement.sql,
            "parameters": statement.parameters,
            "milliseconds": round(statement.milliseconds, 3),
            "rows": statement.rows,
            "error": statement.error,
        }
        for statement in statements
    ]
    response.body = json.dumps(document, ensure_ascii=False).encode()
