"""Signing in and out: the login form, the one-time first-run link, logout, and choosing a
new password."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session

from webapp.accounts.passwords import password_problem
from webapp.accounts.roles import require_role
from webapp.accounts.signin import FIELDS, IDLE, PASSWORD_PAGE, TOO_OLD, safe_next, sign_in
from webapp.accounts.store import USERNAME_PATTERN, AccountError
from webapp.accounts.throttle import (
    attempt_failed,
    attempt_succeeded,
    begin_attempt,
    forget_attempt,
)
from webapp.accounts.tokens import redeem_sign_in_token
from webapp.web.access_log import loggable, request_id
from webapp.web.appkeys import ACCOUNTS
from webapp.web.csrf import csrf_token
from webapp.web.errors import AppError, Forbidden
from webapp.web.flash import flash
from webapp.web.metrics import METRICS
from webapp.web.request_body import read_form

WRONG_CREDENTIALS = "Wrong user name or password."
log = logging.getLogger("webapp.auth")

SIGNED_OUT = "signed-out"
SESSION_END_NOTICES = {
    IDLE: "You were signed out after a while without activity.",
    TOO_OLD: "You were signed out: a session lasts a limited time after signing in.",
    SIGNED_OUT: "You are signed out.",
}


async def login_page(request: web.Request) -> web.Response:
    notice = SESSION_END_NOTICES.get(request.query.get("expired", ""))
    return await render_login(
        request, next_path=safe_next(request.query.get("next")), notice=notice
    )


async def login(request: web.Request) -> web.Response:
    """Check the credentials, once the throttle has counted the attempt; on success start a
    new session (a new cookie) for the user."""
    form = await read_form(request)
    accounts = request.app[ACCOUNTS]
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_path = safe_next(str(form.get("next", "")))
    address = request.remote or "unknown"
    if not USERNAME_PATTERN.match(username):
        # No user has such a name, and a database may refuse even to look it up (NUL):
        # nothing to count or check.
        request.app[METRICS].sign_in_failures.inc()
        log_sign_in(request, "failed sign-in", username, "no such user name")
        return await render_login(
            request, next_path=next_path, username=username, error=WRONG_CREDENTIALS, status=401
        )
    attempt = await begin_attempt(accounts, username, address)
    if isinstance(attempt, int):
        request.app[METRICS].sign_in_throttled.inc()
        wait = attempt
        log_sign_in(request, "failed sign-in", username, f"throttled for {wait} s")
        minutes = max(1, (wait + 59) // 60)
        response = await render_login(
            request,
            next_path=next_path,
            username=username,
            error=f"Too many failed sign-in attempts. Try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}.",
            status=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        user = await accounts.authenticate(username, password)
    except AppError:
        await forget_attempt(accounts, attempt)  # not checked (too busy): no failure
        raise
    if user is None:
        await attempt_failed(accounts, attempt)
        request.app[METRICS].sign_in_failures.inc()
        log_sign_in(request, "failed sign-in", username, "wrong user name or password")
        return await render_login(
            request, next_path=next_path, username=username, error=WRONG_CREDENTIALS, status=401
        )
    await attempt_succeeded(accounts, attempt)
    log_sign_in(request, "sign-in", user.username)
    session = await new_session(request)
    sign_in(session, user.id, user.session_version)
    raise web.HTTPSeeOther(next_path)


async def logout(request: web.Request) -> web.Response:
    """End the session: the cookie is dropped, and the user's session version moves on, so
    a copy of the old cookie is no longer signed in either."""
    user = require_role(request, "viewer")
    await request.app[ACCOUNTS].end_sessions(user.id)
    log_sign_in(request, "sign-out", user.username)
    session = await get_session(request)
    session.invalidate()
    # The session is gone, so no flash can carry the confirmation: the address does.
    url = request.app.router["login"].url_for().with_query(expired=SIGNED_OUT)
    raise web.HTTPSeeOther(str(url))


async def sign_in_link(request: web.Request) -> web.Response:
    """The first-run link: valid once and for a while; signs in as a new admin, who is then
    asked to choose a password."""
    accounts = request.app[ACCOUNTS]
    if not await redeem_sign_in_token(accounts, request.match_info["token"]):
        raise Forbidden("This sign-in link is unknown, already used or expired.")
    user = await accounts.add_user(await accounts.free_admin_name(), "admin", None)
    log_sign_in(request, "sign-in", user.username, "first-run link; a new admin")
    session = await new_session(request)
    sign_in(session, user.id, user.session_version)
    raise web.HTTPSeeOther(PASSWORD_PAGE)


def log_sign_in(request: web.Request, event: str, username: str, why: str = "") -> None:
    """One line in the log for a sign-in, a sign-out or a refused sign-in: who (the name as
    typed, quoted), from where, the request id, and why when refused."""
    log.info(
        "%s: user=%s address=%s request_id=%s%s",
        event,
        loggable(username),
        request.remote or "unknown",
        request_id(request),
        f" ({why})" if why else "",
    )


async def password_page(request: web.Request) -> web.Response:
    return await render_password(request)


async def change_password(request: web.Request) -> web.Response:
    """Set the signed-in user's password (asking for the current one, if there is one)."""
    form = await read_form(request)
    user = require_role(request, "viewer")
    accounts = request.app[ACCOUNTS]
    new = str(form.get("password", ""))
    if (
        user.has_password
        and await accounts.authenticate(user.username, str(form.get("current", ""))) is None
    ):
        return await render_password(request, "The current password is wrong.")
    problem = password_problem(new)
    if problem is None and new != form.get("repeat"):
        problem = "The two new passwords differ."
    if problem is not None:
        return await render_password(request, problem)
    try:
        version = await accounts.set_password(user.username, new)
    except AccountError as exc:
        return await render_password(request, str(exc))
    session = await get_session(request)
    session[FIELDS.session_version] = version
    await flash(request, "Your password was changed.")
    raise web.HTTPSeeOther("/")


async def render_login(
    request: web.Request,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    session = await get_session(request)
    context: dict[str, Any] = {
        "form_csrf": csrf_token(session),
        "next_path": next_path,
        "username": username,
        "error": error,
        "notice": notice,
    }
    return aiohttp_jinja2.render_template("login.html", request, context, status=status)


async def render_password(request: web.Request, error: str | None = None) -> web.Response:
    user = require_role(request, "viewer")
    return aiohttp_jinja2.render_template(
        "password.html",
        request,
        {"needs_current": user.has_password, "error": error},
        status=400 if error else 200,
    )
