"""Request bodies: how big each route lets them be, and the one way handlers read a form.

A body is refused (413) before it is read when its declared length is over the route's limit,
and while it is read when it grows past it, so an anonymous client cannot make the server
buffer megabytes. Only a form with a file field gets the upload limit; sign-in, account and
admin forms, deletes and reverts get a tiny one. A form that cannot be decoded (bytes that
are not UTF-8, a broken multipart body, an unknown charset) is the client's mistake: 400."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from webapp.web.error_pages import HTTP_TITLES, render_error
from webapp.web.errors import BadRequest, Handler

# The largest body the server accepts at all (a file upload into a binary column).
UPLOAD_LIMIT = 16 * 1024 * 1024
# A record form without a file field: its text fields may hold long texts.
RECORD_FORM_LIMIT = 1024 * 1024
# Everything else: sign-in, password, users, delete, revert, logout.
SMALL_FORM_LIMIT = 64 * 1024

BodyLimit = Callable[[web.Request], int]
H = TypeVar("H", bound=Handler)


def body_limit(limit: BodyLimit, *, cap: int = UPLOAD_LIMIT) -> Callable[[H], H]:
    """Mark a handler whose body may be bigger than SMALL_FORM_LIMIT: `limit(request)` says
    how big, from what the URL names (before sign-in is checked, so it must be cheap), and
    never more than `cap` (a file import's upload may pass UPLOAD_LIMIT)."""

    def mark(handler: H) -> H:
        handler.body_limit = limit  # type: ignore[attr-defined]  # a mark read back by request_body_limit
        handler.body_cap = cap  # type: ignore[attr-defined]
        return handler

    return mark


def request_body_limit(request: web.Request) -> int:
    """The most bytes the matched route reads from this request's body."""
    handler = getattr(request.match_info, "handler", None)
    limit: BodyLimit | None = getattr(handler, "body_limit", None)
    cap: int = getattr(handler, "body_cap", UPLOAD_LIMIT)
    return SMALL_FORM_LIMIT if limit is None else min(limit(request), cap)


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a declared length over the route's limit at once; bound the reading of one
    that declares none (chunked) to the same limit. The outermost middleware, since the
    bound comes with a copy of the request that every other one must see."""
    limit = request_body_limit(request)
    length = request.content_length
    if length is not None and length > limit:
        return render_error(request, 413, HTTP_TITLES[413], too_large(limit))
    if limit != request.client_max_size and request.can_read_body:
        request = _bounded_copy(request, limit)
    return await handler(request)


def _bounded_copy(request: web.Request, limit: int) -> web.Request:
    """The request with `limit` as its body limit. A copy forgets what an earlier copy
    replaced (a proxy middleware's client address, scheme, host) unless told again."""
    kept: dict[str, Any] = {"scheme": request.scheme, "host": request.host}
    if request.remote is not None:
        kept["remote"] = request.remote
    return request.clone(client_max_size=limit, **kept)


def too_large(limit: int) -> str:
    return f"This request's body is larger than the {limit:,} bytes this address accepts."


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The request's form fields (read once; aiohttp keeps them for later calls), or
    BadRequest when the body cannot be decoded."""
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            # aiohttp turns percent-escapes that are not in the form's charset into U+FFFD:
            # refuse them instead of writing a changed value. Unescaping the whole body at
            # once checks every field, since "&", "=" and "+" never split a UTF-8 sequence.
            body = unquote_to_bytes((await request.read()).replace(b"+", b" "))
            body.decode(request.charset or "utf-8")
        return await request.post()
    except (ValueError, LookupError, AssertionError, RuntimeError, HttpProcessingError):
        # UnicodeDecodeError is a ValueError; an unknown charset a LookupError; aiohttp's
        # multipart reader raises ValueError, AssertionError, RuntimeError (an unknown
        # transfer encoding) or HttpProcessingError (broken part headers) on a malformed body.
        raise BadRequest(
            "The form could not be read: its body is malformed or not UTF-8 text."
        ) from None
