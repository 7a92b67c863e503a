"""Who may do what: every route of the app for anonymous, viewer, editor and admin, with the
status each gets, and no change to the users when a request is refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.keys import ACCOUNTS

ROLES = [None, "viewer", "editor", "admin"]
SIGN_IN = "/login"

# (method, path, form, expected status for anonymous, viewer, editor, admin)
# 302 for an anonymous page view means: sent to the sign-in page.
MATRIX = [
    ("GET", "/", None, (302, 200, 200, 200)),
    ("GET", "/t/notes", None, (302, 200, 200, 200)),
    ("GET", "/t/notes/r/1", None, (302, 200, 200, 200)),
    ("GET", "/t/notes/r/1/raw/body", None, (302, 200, 200, 200)),
    ("GET", "/t/nope", None, (302, 404, 404, 404)),
    ("GET", "/login", None, (200, 200, 200, 200)),
    ("GET", "/static/app.css", None, (200, 200, 200, 200)),
    ("GET", "/login/token/not-a-token", None, (403, 403, 403, 403)),
    ("GET", "/account/password", None, (302, 200, 200, 200)),
    ("POST", "/account/password", {"current": "wrong"}, (403, 400, 400, 400)),
    ("GET", "/admin/users", None, (302, 403, 403, 200)),
    (
        "POST",
        "/admin/users",
        {"username": "newbie", "role": "viewer", "password": "long enough 1"},
        (403, 403, 403, 303),
    ),
    ("POST", "/admin/users/other/role", {"role": "editor"}, (403, 403, 403, 303)),
    ("POST", "/admin/users/other/disable", {}, (403, 403, 403, 303)),
    ("POST", "/admin/users/other/enable", {}, (403, 403, 403, 303)),
    (
        "POST",
        "/admin/users/other/password",
        {"password": "another long one"},
        (403, 403, 403, 303),
    ),
    ("PUT", "/t/notes", {}, (403, 405, 405, 405)),
    ("DELETE", "/t/notes/r/1", {}, (403, 405, 405, 405)),
    ("POST", "/logout", {}, (403, 303, 303, 303)),  # last: it ends the session
]


async def users_snapshot(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT username, role, disabled, password_hash, session_version "
                "FROM webapp_users WHERE username <> 'test-admin' ORDER BY username"
            )
        )
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "anonymous")
async def test_every_route_answers_each_role_as_expected(
    make_client, engine: AsyncEngine, role: str | None
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(50))"))
        await conn.execute(text("INSERT INTO notes VALUES (1, 'hello')"))
    client = await make_client(role=role)
    await client.server.app[ACCOUNTS].add_user("other", "viewer", "other password")
    token = None
    if role is not None:
        page = await (await client.get("/")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    seen = []
    for method, path, form, expected in MATRIX:
        before = await users_snapshot(engine)
        data = None
        if form is not None:
            data = dict(form, csrf_token=token or "")
        response = await client.request(method, path, data=data, allow_redirects=False)
        want = expected[ROLES.index(role)]
        seen.append((method, path, response.status, want))
        if want == 302:
            assert response.headers["Location"].startswith(SIGN_IN + "?next=")
        if want in (403, 405) or (method == "POST" and want == 400):
            assert await users_snapshot(engine) == before, (method, path)
    assert [(m, p, got) for m, p, got, _ in seen] == [(m, p, want) for m, p, _, want in seen]
