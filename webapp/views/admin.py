"""The users page: admins add users, change roles, disable and enable them and set their
passwords, the same changes the `python -m webapp user` commands make."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from webapp.accounts.roles import require_role
from webapp.accounts.store import ROLES, USERNAME_PATTERN, AccountError
from webapp.web.appkeys import ACCOUNTS
from webapp.web.errors import NotFound
from webapp.web.flash import flash
from webapp.web.request_body import read_form

USERS_PAGE = "/admin/users"


async def users_page(request: web.Request) -> web.Response:
    require_role(request, "admin")
    return await render_users(request)


async def add_user(request: web.Request) -> web.Response:
    require_role(request, "admin")
    form = await read_form(request)
    username = str(form.get("username", ""))
    role = str(form.get("role", ""))
    try:
        await request.app[ACCOUNTS].add_user(username, role, str(form.get("password", "")))
    except AccountError as exc:
        return await render_users(request, error=str(exc), entered={"username": username})
    await flash(request, f"User {username} added, as {role}.")
    raise web.HTTPSeeOther(USERS_PAGE)


async def change_user(request: web.Request) -> web.Response:
    """One change to one user, named by the form's `action`: role, disable, enable, password."""
    require_role(request, "admin")
    form = await read_form(request)
    accounts = request.app[ACCOUNTS]
    username = request.match_info["username"]
    if not USERNAME_PATTERN.match(username):
        raise NotFound(f"There is no user named {username[:150]!r}.")
    action = request.match_info["action"]
    role = str(form.get("role", ""))
    try:
        if action == "role":
            await accounts.set_role(username, role)
        elif action in ("disable", "enable"):
            await accounts.set_disabled(username, action == "disable")
        elif action == "password":
            await accounts.set_password(username, str(form.get("password", "")))
        else:
            raise web.HTTPNotFound()
    except AccountError as exc:
        return await render_users(request, error=f"{username}: {exc}")
    done = {
        "role": f"{username} now has the role {role}.",
        "disable": f"{username} is disabled and signed out.",
        "enable": f"{username} is enabled.",
        "password": f"{username}'s password was set.",
    }
    await flash(request, done[action])
    raise web.HTTPSeeOther(USERS_PAGE)


async def render_users(
    request: web.Request, *, error: str | None = None, entered: dict[str, str] | None = None
) -> web.Response:
    users = await request.app[ACCOUNTS].list_users()
    context: dict[str, Any] = {
        "users": [
            {
                "username": user.username,
                "role": user.role,
                "disabled": user.disabled,
                "has_password": user.password_hash is not None,
                "created_at": user.created_at,
            }
            for user in users
        ],
        "roles": ROLES,
        "error": error,
        "entered": entered or {},
    }
    return aiohttp_jinja2.render_template(
        "admin_users.html", request, context, status=400 if error else 200
    )
