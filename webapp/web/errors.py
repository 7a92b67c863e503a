"""The app's own refusals, and the middleware that turns every failure into a proper page:
a user sees a status and a sentence, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from webapp.database.dialects import is_timeout

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AppError(Exception):
    """A refusal with an HTTP status and a message safe to show to the user."""

    status = 500
    title = "Error"
    # For a refusal worth repeating later: the Retry-After its page carries.
    retry_after_seconds: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(AppError):
    status = 400
    title = "Bad request"


class Forbidden(AppError):
    status = 403
    title = "Forbidden"


class NotFound(AppError):
    status = 404
    title = "Not found"


class NoSuchRecord(NotFound):
    """A record key that leads nowhere, however it misses (it does not decode, its column
    could never hold it, or no row has it): one sentence for every page that takes a key."""

    def __init__(self) -> None:
        super().__init__("No record has this key.")


class Conflict(AppError):
    status = 409
    title = "Conflict"


class TooBusy(AppError):
    """A limited resource is all in use right now; worth trying again in a moment."""

    status = 503
    title = "Busy"
    retry_after_seconds = 10


class LockBusy(AppError):
    """A write met rows another transaction held (a lock wait timed out, or the database
    broke a deadlock): nothing was written, and trying again will likely succeed."""

    status = 503
    title = "Rows busy"
    retry_after_seconds = 5


class SlowRequest(AppError):
    """The client took too long to send its request body; the connection is closed after
    this answer, since the rest of the body may still be on its way."""

    status = 408
    title = "Request timeout"


class TooSlow(AppError):
    """A search, filter or sort ran past its time limit and was stopped: the user can
    narrow it."""

    status = 422
    title = "The search took too long"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"Finding these rows took longer than {seconds:g} seconds, so it was stopped. "
            "Narrow it down: search for a longer or rarer word, add a filter on a column "
            "with an index (such as the key), or sort by the table's usual order."
        )


class Unavailable(AppError):
    status = 503
    title = "Database unavailable"


HTTP_TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    503: "Database unavailable",
}


def first_line(exc: BaseException) -> str:
    """An error in one line for a message or a log: the driver's own error when SQLAlchemy
    wrapped one, its first non-blank line, or the exception's class name when it says
    nothing (a bare TimeoutError)."""
    error = getattr(exc, "orig", None) or exc
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()
    if isinstance(error, TimeoutError):
        return "no answer in time (the database or the network to it is silent)"
    return type(error).__name__


def is_unavailable(exc: BaseException) -> bool:
    """Whether an exception means the database cannot answer right now: it cannot be
    reached, a lock was held past its limit, or a statement was cut at its time limit (a
    503 to try again, never a refusal of the user's input)."""
    if isinstance(exc, PoolTimeoutError | ConnectionError | TimeoutError):
        return True
    if is_timeout(exc):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        message = str(exc.orig if exc.orig is not None else exc).lower()
        return any(
            marker in message
            for marker in (
                "can't connect",
                "connection refused",
                "lost connection",
                "server has gone away",
                "connection was closed",
                "connection is closed",
                "connect call failed",
                "timeout",
                "timed out",
                "terminating connection",
                "the database system is",
                "not connected",
                # SQLite: another program held the write lock past the busy timeout.
                "database is locked",
            )
        )
    return isinstance(exc, OSError)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AppError as exc:
        response = render_error(request, exc.status, exc.title, exc.message)
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
        for header in ("Allow", "Retry-After"):
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


def render_error(request: web.Request, status: int, title: str, message: str) -> web.Response:
    response = aiohttp_jinja2.render_template(
        "error.html", request, {"status": status, "title": title, "message": message}
    )
    response.set_status(status)
    return response
