"""The account's API tokens page: make a token (its text is shown on the answer to that
request only, never again), list them with their last use, revoke one."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from webapp.accounts.api_tokens import MAX_DAYS, create_token, list_tokens, revoke_token
from webapp.accounts.roles import require_role
from webapp.accounts.store import AccountError
from webapp.web.appkeys import ACCOUNTS
from webapp.web.csrf import request_csrf_token
from webapp.web.errors import NotFound
from webapp.web.flash import flash
from webapp.web.request_body import read_form

TOKENS_PAGE = "/account/tokens"


async def tokens_page(request: web.Request) -> web.Response:
    return await render_tokens(request)


async def add_token(request: web.Request) -> web.Response:
    """Make a token for the signed-in user and show its text, once."""
    user = require_role(request, "viewer")
    form = await read_form(request)
    days_text = str(form.get("days", "")).strip()
    days = None
    if days_text:
        if not days_text.isascii() or not days_text.isdigit() or len(days_text) > 6:
            return await render_tokens(
                request, error=f"Expiry is a number of days (1 to {MAX_DAYS})."
            )
        days = int(days_text)
    try:
        text, _ = await create_token(
            request.app[ACCOUNTS],
            user.username,
            name=str(form.get("name", "")),
            read_only=form.get("read_only") == "1",
            days=days,
        )
    except AccountError as exc:
        return await render_tokens(request, error=str(exc).capitalize() + ".")
    return await render_tokens(request, new_token=text)


async def revoke(request: web.Request) -> web.Response:
    user = require_role(request, "viewer")
    text = request.match_info["token"]
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound("There is no such token.")
    try:
        await revoke_token(request.app[ACCOUNTS], int(text), user_id=user.id)
    except AccountError:
        raise NotFound("There is no such token.") from None
    await flash(request, f"Token {text} revoked.")
    raise web.HTTPSeeOther(TOKENS_PAGE)


async def render_tokens(
    request: web.Request, *, new_token: str | None = None, error: str | None = None
) -> web.Response:
    user = require_role(request, "viewer")
    tokens = await list_tokens(request.app[ACCOUNTS], user.username)
    context: dict[str, Any] = {
        "tokens": [token_view(token) for token in tokens],
        "new_token": new_token,
        "error": error,
        "max_days": MAX_DAYS,
        "csrf_token": await request_csrf_token(request),
    }
    return aiohttp_jinja2.render_template(
        "tokens.html", request, context, status=400 if error else 200
    )


def token_view(token: Any) -> dict[str, Any]:
    def moment(value: Any) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value is not None else "—"

    return {
        "id": token.id,
        "name": token.name,
        "access": "read-only" if token.read_only else "read and write",
        "created": moment(token.created_at),
        "expires": moment(token.expires_at) if token.expires_at else "never",
        "last_used": moment(token.last_used_at) if token.last_used_at else "never",
        "revoked": moment(token.revoked_at) if token.revoked_at else None,
    }
