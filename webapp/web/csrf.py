"""Cross-site request forgery defence: every state-changing request must come from this
site (its Origin, when the browser sends one, names this host; Sec-Fetch-Site is not
cross-site) and carry the per-session token that the app put into its forms."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import get_session

from webapp.web.appkeys import BEARER
from webapp.web.errors import Forbidden, Handler
from webapp.web.request_body import read_form

TOKEN_FIELD = "csrf_token"
TOKEN_HEADER = "X-CSRF-Token"
CSRF_SESSION_FIELD = "csrf"  # the session field holding the token forms must echo
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
MISSING_TOKEN = (
    "The form's security token is missing or has expired. Reload the page and try again."
)


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's token for hidden form fields, created on first use."""
    token = session.get(CSRF_SESSION_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_FIELD] = token
    return token


async def request_csrf_token(request: web.Request) -> str:
    """`csrf_token` of the request's session."""
    return csrf_token(await get_session(request))


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse (403) an unsafe request from another site or without the session's token. A
    request with an API token carries no cookie a forged request could borrow: it is
    exempt."""
    if request.method not in SAFE_METHODS and not request.get(BEARER):
        await check_request(request)
    return await handler(request)


async def check_request(request: web.Request) -> None:
    """Refuse a cross-site request, then one whose session holds no token (before its form
    is read: nothing to compare with), then one whose token differs."""
    origin = request.headers.get("Origin")
    if origin is not None and not _same_host(origin, request.host):
        raise Forbidden("This request came from another site, so it was refused.")
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        raise Forbidden("This request came from another site, so it was refused.")
    session = await get_session(request)
    expected = session.get(CSRF_SESSION_FIELD)
    if not isinstance(expected, str) or not expected:
        raise Forbidden(MISSING_TOKEN)
    sent = request.headers.get(TOKEN_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await read_form(request)  # kept by aiohttp: the handler reads the same form
        field = form.get(TOKEN_FIELD)
        sent = field if isinstance(field, str) else None
    if not sent:
        raise Forbidden(MISSING_TOKEN)
    if not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
        raise Forbidden("The form's security token is wrong. Reload the page and try again.")


def _same_host(origin: str, host: str) -> bool:
    """Whether an Origin header names this server. Only host and port are compared, so a
    proxy that terminates TLS in front of the app does not break every form. An Origin that
    is not a URL at all names no server."""
    if origin == "null":
        return False
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return netloc.lower() == host.lower()
