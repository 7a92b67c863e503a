"""One-time messages after a change ("Saved."), kept in the session across the redirect
and shown by the next page that renders; a message about a change the user may take back
carries the address that undoes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from webapp.web.session_cookie import session_cookie_name

FLASH_SESSION_FIELD = "flash"  # the session field holding the next page's message


@dataclass(frozen=True)
class Flash:
    """What the next page says, and where its Undo link goes (None: no such link)."""

    text: str
    undo_href: str | None = None


async def flash(request: web.Request, message: str, *, undo_href: str | None = None) -> None:
    session = await get_session(request)
    session[FLASH_SESSION_FIELD] = {"text": message, "undo": undo_href}


async def flash_processor(request: web.Request) -> dict[str, Any]:
    """aiohttp-jinja2 context processor: the pending message for an HTML page, taken out of
    the session so it shows once. Requests without a session cookie skip the session."""
    if request.method != "GET" or session_cookie_name(request) not in request.cookies:
        return {"flash": None}
    if request.path.startswith("/static/") or request.path.endswith("/lookup"):
        return {"flash": None}
    session = await get_session(request)
    return {"flash": pending_flash(session.pop(FLASH_SESSION_FIELD, None))}


def pending_flash(stored: Any) -> Flash | None:
    """The message as the session kept it (a cookie from before Undo links holds text)."""
    if isinstance(stored, str):
        return Flash(stored)
    if isinstance(stored, dict) and isinstance(stored.get("text"), str):
        undo = stored.get("undo")
        return Flash(stored["text"], undo if isinstance(undo, str) else None)
    return None
