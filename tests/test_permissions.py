"""Who may do what: every route of the app for anonymous, viewer, editor and admin, with the
status each gets, and no change to the database (users, data, audit log) when a request is
refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.changes.audit import AuditTrail
from webapp.changes.writes import read_row, row_version, update_row, write_transaction
from webapp.listing.queries import key_condition
from webapp.views.common import audit_log
from webapp.web.appkeys import ACCOUNTS, CATALOG, SESSIONMAKER

ROLES = [None, "viewer", "editor", "admin"]
SIGN_IN = "/login"

VERSION = "row_version"  # a form field filled with the row's current version when sent

# (method, path, form, expected status for anonymous, viewer, editor, admin)
# 302 for an anonymous page view means: sent to the sign-in page.
MATRIX = [
    ("GET", "/", None, (302, 200, 200, 200)),
    ("GET", "/t/notes", None, (302, 200, 200, 200)),
    ("GET", "/t/notes/r/1", None, (302, 200, 200, 200)),
    ("GET", "/t/notes/r/1/raw/body", None, (302, 200, 200, 200)),
    ("GET", "/t/notes/r/1/image/body", None, (302, 404, 404, 404)),  # text: no picture
    ("GET", "/t/nope", None, (302, 404, 404, 404)),
    ("GET", "/t/notes/lookup?q=1", None, (302, 200, 200, 200)),
    ("GET", "/t/notes/new", None, (302, 403, 200, 200)),
    ("POST", "/t/notes/new", {"c0": "10", "c1": "created"}, (403, 403, 303, 303)),
    ("GET", "/t/notes/r/1/edit", None, (302, 403, 200, 200)),
    ("POST", "/t/notes/r/1/edit", {VERSION: "1", "c1": "edited"}, (403, 403, 303, 303)),
    ("GET", "/t/notes/r/2/delete", None, (302, 403, 200, 200)),
    ("POST", "/t/notes/r/2/delete", {VERSION: "2"}, (403, 403, 303, 303)),
    ("GET", "/t/ro/new", None, (302, 403, 403, 403)),
    ("POST", "/t/ro/r/1/edit", {"c1": "x"}, (403, 403, 403, 403)),
    ("POST", "/t/ro/r/1/delete", {}, (403, 403, 403, 403)),
    ("GET", "/activity", None, (302, 200, 200, 200)),
    ("GET", "/activity?table=notes&action=update", None, (302, 200, 200, 200)),
    ("GET", "/activity/1/revert", None, (302, 403, 200, 200)),
    ("POST", "/activity/1/revert", {}, (403, 403, 303, 303)),
    ("POST", "/activity/999/revert", {}, (403, 403, 404, 404)),
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
    """Everything a request could change: users, the data, the audit log."""
    statements = [
        "SELECT username, role, disabled, password_hash, session_version "
        "FROM webapp_users WHERE username <> 'test-admin' ORDER BY username",
        "SELECT id, body FROM notes ORDER BY id",
        "SELECT id, action, old_values, new_values FROM webapp_audit_log ORDER BY id",
    ]
    async with engine.connect() as conn:
        return [[tuple(row) for row in await conn.execute(text(sql))] for sql in statements]


async def current_version(app, key: str) -> str:
    """The version an edit or delete form of notes row `key` would carry now."""
    info = app[CATALOG].tables["notes"]
    async with app[SESSIONMAKER]() as session:
        row = await read_row(
            await session.connection(), info, key_condition(info, [key]), lock=False
        )
    return row_version(info, row) if row is not None else "gone"


async def make_first_entry(app) -> None:
    """Audit entry 1: an update of notes row 3, for the revert routes."""
    info = app[CATALOG].tables["notes"]
    condition = key_condition(info, ["3"])
    trail = AuditTrail(audit_log(app), user_id=None, username="script")
    version = await current_version(app, "3")
    async with app[SESSIONMAKER]() as session, write_transaction(session, trail) as conn:
        await update_row(conn, info, condition, version, {"body": "changed"})


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "anonymous")
async def test_every_route_answers_each_role_as_expected(
    make_client, engine: AsyncEngine, role: str | None
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(50))"))
        await conn.execute(text("INSERT INTO notes VALUES (1, 'hello'), (2, 'bye'), (3, 'x')"))
        # no primary key: read-only for every role
        await conn.execute(text("CREATE TABLE ro (id INTEGER, body VARCHAR(50))"))
        await conn.execute(text("INSERT INTO ro VALUES (1, 'fixed')"))
    client = await make_client(role=role)
    await client.server.app[ACCOUNTS].add_user("other", "viewer", "other password")
    await make_first_entry(client.server.app)
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
            if VERSION in form:
                data[VERSION] = await current_version(client.server.app, form[VERSION])
        response = await client.request(method, path, data=data, allow_redirects=False)
        want = expected[ROLES.index(role)]
        seen.append((method, path, response.status, want))
        if want == 302:
            assert response.headers["Location"].startswith(SIGN_IN + "?next=")
        if want in (403, 405) or (method == "POST" and want == 400):
            assert await users_snapshot(engine) == before, (method, path)
    assert [(m, p, got) for m, p, got, _ in seen] == [(m, p, want) for m, p, _, want in seen]


async def test_viewers_see_no_buttons_that_change_data(make_client, engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(50))"))
        await conn.execute(text("INSERT INTO notes VALUES (3, 'x')"))
    viewer = await make_client(role="viewer")
    await make_first_entry(viewer.server.app)
    editor = await make_client(role="editor")
    pages = ["/t/notes", "/t/notes/r/3", "/activity"]
    for path in pages:
        seen = await (await viewer.get(path)).text()
        for marker in ("/new", "/edit", "/delete", "/revert", ">Revert<", "New record"):
            assert marker not in seen, (path, marker)
    assert "New record" in await (await editor.get("/t/notes")).text()
    record = await (await editor.get("/t/notes/r/3")).text()
    for marker in ("/t/notes/r/3/edit", "/t/notes/r/3/delete", "/activity/1/revert"):
        assert marker in record
    assert "/activity/1/revert" in await (await editor.get("/activity")).text()
