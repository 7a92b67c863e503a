"""One-time messages after a change ("Saved."), kept in the session across the redirect
and shown by the next page that renders."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from webapp.web.session_cookie import session_cookie_name

FLASH_SESSION_FIELD = "flash"  # the session field holding the next page's message


async def flash(request: web.Request, message: str) -> None:
    session = await get_session(request)
    session[FLASH_SESSION_FIELD] = message


async def flash_processor(request: web.Request) -> dict[str, Any]:
    """aiohttp-jinja2 context processor: the pending message for an HTML page, taken out of
    the session so it shows once. Requests without a session cookie skip the session."""
    if request.method != "GET" or session_cookie_name(request) not in request.cookies:
        return {"flash": None}
    if request.path.startswith("/static/") or request.path.endswith("/lookup"):
        return {"flash": None}
    session = await get_session(request)
    return {"flash": session.pop(FLASH_SESSION_FIELD, None)}
