"""A per-session token that every form of the app's own carries, so a page on another site
cannot make a signed-in browser submit one. Small on purpose: it will be unified with the
general unsafe-method check in security.py."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, MutableMapping
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from .errors import Forbidden

SESSION_FIELD = "csrf"
FORM_FIELD = "csrf_token"


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's token, made on first use."""
    token = session.get(SESSION_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_FIELD] = token
    return token


async def check_csrf(request: web.Request, form: Mapping[str, Any]) -> None:
    """Refuse (403) a form whose token is not this session's."""
    session = await get_session(request)
    expected = session.get(SESSION_FIELD)
    given = form.get(FORM_FIELD)
    if (
        not isinstance(expected, str)
        or not isinstance(given, str)
        or not hmac.compare_digest(expected.encode(), given.encode())
    ):
        raise Forbidden(
            "This form has expired or did not come from this site. Reload the page and try again."
        )
