"""Who may do what through the JSON API: every route and method for anonymous, a read-only
and a read-write token, viewer, editor and admin sessions, and a revoked token, an expired
one and one whose user is disabled, with the status each gets, a problem document for every
refusal, and nothing changed by a refused request."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import form_token
from webapp.accounts.api_tokens import create_token, revoke_token
from webapp.web.appkeys import ACCOUNTS

IDENTITIES = [
    "anonymous",
    "read-only token",
    "read-write token",
    "viewer",
    "editor",
    "admin",
    "revoked token",
    "expired token",
    "disabled user",
]
READ = (401, 200, 200, 200, 200, 200, 401, 401, 401)
# (method, path, JSON body, whether If-Match carries the row's version, statuses by identity)
MATRIX = [
    ("GET", "/api/", None, False, READ),
    ("GET", "/api/openapi.json", None, False, READ),
    ("GET", "/api/activity", None, False, READ),
    ("GET", "/api/t/notes?q=hello", None, False, READ),
    ("GET", "/api/t/notes/r/1", None, False, READ),
    ("HEAD", "/api/t/notes/r/1", None, False, READ),
    ("GET", "/api/t/notes/r/1/history", None, False, READ),
    ("GET", "/api/t/nope", None, False, (401, 404, 404, 404, 404, 404, 401, 401, 401)),
    ("GET", "/api/t/notes/r/99", None, False, (401, 404, 404, 404, 404, 404, 401, 401, 401)),
    (
        "POST",
        "/api/t/notes",
        {"id": "10", "body": "new"},
        False,
        (401, 403, 201, 403, 201, 201, 401, 401, 401),
    ),
    (
        "PATCH",
        "/api/t/notes/r/1",
        {"body": "edited"},
        True,
        (401, 403, 200, 403, 200, 200, 401, 401, 401),
    ),
    (
        "PATCH",
        "/api/t/notes/r/3",
        {"body": "edited"},
        False,
        (401, 403, 428, 403, 428, 428, 401, 401, 401),
    ),
    ("DELETE", "/api/t/notes/r/2", None, True, (401, 403, 204, 403, 204, 204, 401, 401, 401)),
    ("POST", "/api/t/ro", {"body": "x"}, False, (401, 403, 403, 403, 403, 403, 401, 401, 401)),
    ("PUT", "/api/t/notes", {}, False, (401, 405, 405, 405, 405, 405, 401, 401, 401)),
]


async def snapshot(engine: AsyncEngine) -> list[list[tuple]]:
    statements = [
        "SELECT id, body FROM notes ORDER BY id",
        "SELECT id, action, old_values, new_values FROM webapp_audit_log ORDER BY id",
    ]
    async with engine.connect() as conn:
        return [[tuple(row) for row in await conn.execute(text(sql))] for sql in statements]


async def identity_client(make_client, identity: str):
    """A client acting as `identity`, and the headers each of its requests carries."""
    if identity == "anonymous":
        return await make_client(role=None), {}
    if identity in ("viewer", "editor", "admin"):
        client = await make_client(role=identity)
        return client, {"X-CSRF-Token": await form_token(client, "/account/password")}
    client = await make_client(role="editor")
    accounts = client.server.app[ACCOUNTS]
    client.session.cookie_jar.clear()
    read_only = identity == "read-only token"
    token, row = await create_token(accounts, "test-editor", read_only=read_only, days=30)
    if identity == "revoked token":
        await revoke_token(accounts, row.id)
    elif identity == "expired token":
        Token = accounts.models.api_token
        async with accounts.sessionmaker() as session, session.begin():
            await session.execute(
                update(Token).where(Token.id == row.id).values(expires_at=row.created_at)
            )
        accounts.tokens.drop(row.id)
    elif identity == "disabled user":
        await accounts.set_disabled("test-editor", True)
    return client, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("identity", IDENTITIES)
async def test_every_api_route_answers_each_identity(
    make_client, engine: AsyncEngine, identity: str
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE notes (id VARCHAR(10) PRIMARY KEY, body VARCHAR(50))")
        )
        await conn.execute(
            text("INSERT INTO notes VALUES ('1', 'hello'), ('2', 'bye'), ('3', 'x')")
        )
        await conn.execute(text("CREATE TABLE ro (id INTEGER, body VARCHAR(50))"))
    client, headers = await identity_client(make_client, identity)
    seen = []
    for method, path, body, with_version, _ in MATRIX:
        sent = dict(headers)
        if method in ("PATCH", "DELETE") and with_version:
            # The version as an allowed reader sees it (a refused one sends a stale guess).
            read = await client.get(path, headers=headers)
            sent["If-Match"] = read.headers.get("ETag", '"stale"')
        before = await snapshot(engine)
        response = await client.request(method, path, json=body, headers=sent)
        seen.append((method, path, response.status))
        if response.status >= 400:
            assert response.content_type == "application/problem+json", (method, path)
            if method != "HEAD":
                problem = await response.json(content_type="application/problem+json")
                assert problem["status"] == response.status
            assert await snapshot(engine) == before, (method, path)
        elif method not in ("HEAD", "DELETE"):
            assert response.content_type == "application/json"
    expected_statuses = [
        (method, path, expected[IDENTITIES.index(identity)])
        for method, path, _, _, expected in MATRIX
    ]
    assert seen == expected_statuses
