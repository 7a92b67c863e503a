"""The app's own refusals: raised anywhere, each carries the status and the sentence the user
sees (webapp.web.error_pages renders them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # named for the type checker: the command line uses these without aiohttp
    from aiohttp import web

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


class AppError(Exception):
    """A refusal with an HTTP status and a message safe to show to the user."""

    status = 500
    title = "Error"
    # For a refusal worth repeating later: the Retry-After its page carries.
    retry_after_seconds: int | None = None

    def __init__(self, message: str, members: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # More of the refusal for a JSON client (an RFC 9457 problem's extension members:
        # a field-by-field `errors` list, the row as it is now); pages show `message`.
        self.members: dict[str, Any] = dict(members or {})


class BadRequest(AppError):
    status = 400
    title = "Bad request"


class Unauthorized(AppError):
    """An API request without valid credentials (a missing, unknown, revoked or expired
    token, or no signed-in session)."""

    status = 401
    title = "Unauthorized"


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


class UnsupportedMediaType(AppError):
    status = 415
    title = "Unsupported media type"


class Conflict(AppError):
    status = 409
    title = "Conflict"


class PreconditionFailed(AppError):
    """The `If-Match` a change carries is not the row's version any more."""

    status = 412
    title = "Precondition failed"


class PreconditionRequired(AppError):
    """A change that must say which version of the row it changes (`If-Match`)."""

    status = 428
    title = "Precondition required"


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
