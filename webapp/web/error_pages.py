"""The middleware that turns every failure into a proper page: a user sees a status and a
sentence, never a traceback. The app's own refusals (webapp.web.errors) say their status; a
database that is too slow or cannot be reached is a 503 to try again; anything else is
logged and a 500."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from webapp.database.dialects import is_timeout
from webapp.database.failures import is_unavailable
from webapp.web.errors import AppError, Handler, SlowRequest, Unauthorized, first_line
from webapp.web.metrics import METRICS
from webapp.web.problems import is_api, problem_response

log = logging.getLogger(__name__)

HTTP_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    428: "Precondition required",
    503: "Database unavailable",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AppError as exc:
        response = render_error(request, exc.status, exc.title, exc.message, exc.members)
        if isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = 'Bearer realm="webapp"'
        if exc.retry_after_seconds is not None:
            response.headers["Retry-After"] = str(exc.retry_after_seconds)
        if isinstance(exc, SlowRequest):
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400 or exc.status == 304:
            raise
        title = HTTP_TITLES.get(exc.status, exc.reason)
        message = "There is nothing at this address." if exc.status == 404 else exc.reason
        response = render_error(request, exc.status, title, message)
        for header in ("Allow", "Retry-After", "ETag"):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    except Exception as exc:
        if client_went_away(request, exc):
            log.debug("%s %s: the client went away (%s)", request.method, request.path, exc)
            return web.Response(status=400)  # nobody is left to read it
        if is_timeout(exc):
            log.warning("statement cut at its time limit: %s", first_line(exc))
            response = render_error(
                request,
                503,
                "Database too slow",
                "The database took too long to answer. Try again, or ask for less at once "
                "(a narrower search or filter).",
            )
            response.headers["Retry-After"] = "5"
            return response
        if is_unavailable(exc):
            log.warning("database unavailable: %s", first_line(exc))
            metrics = request.app.get(METRICS)
            if metrics is not None and isinstance(exc, PoolTimeoutError):
                metrics.pool_wait_timeouts.inc()
            response = render_error(
                request,
                503,
                "Database unavailable",
                "The database cannot be reached right now. Try again in a moment.",
            )
            response.headers["Retry-After"] = "5"
            return response
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return render_error(
            request, 500, "Something went wrong", "The error has been logged on the server."
        )


def client_went_away(request: web.Request, exc: BaseException) -> bool:
    """Whether a failure is the client's connection closing under the handler (it left, or
    a download was cut), not the database's: writing to it fails with ConnectionError."""
    if isinstance(exc, ClientConnectionResetError):
        return True
    transport = request.transport
    return isinstance(exc, ConnectionError) and (transport is None or transport.is_closing())


def render_error(
    request: web.Request,
    status: int,
    title: str,
    message: str,
    members: Mapping[str, Any] | None = None,
) -> web.Response:
    """The error page, or under `/api/` the problem document (with `members`)."""
    if is_api(request):
        return problem_response(status, title, message, members)
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        {"status": status, "title": title, "message": message},
        status=status,
    )
