"""Signing in and out on every backend: the login form, session rotation, logout, idle
expiry, throttling, rehashing, equal answers for unknown users and wrong passwords, and the
app's own tables kept out of the data browser."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from tests.conftest import FAST_HASHING, TEST_PASSWORD, add_test_user, form_token, sign_in_as
from webapp.accounts import permissions
from webapp.accounts.models import MIGRATIONS
from webapp.accounts.passwords import Passwords
from webapp.accounts.store import Accounts
from webapp.settings import AuthSettings, PasswordHashSettings
from webapp.web.appkeys import ACCOUNTS

COOKIE = "webapp_session"


def cookie_of(client) -> str | None:  # type: ignore[no-untyped-def]
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/")).get(COOKIE)
    return cookie.value if cookie is not None else None


def set_cookie(client, value: str) -> None:  # type: ignore[no-untyped-def]
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: value}, client.make_url("/"))


async def make_notes(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(50))"))
        await conn.execute(text("INSERT INTO notes VALUES (1, 'hello')"))


async def user_row(engine: AsyncEngine, username: str) -> dict:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT * FROM webapp_users WHERE username = :u"), {"u": username}
            )
        ).first()
    return dict(row._mapping) if row is not None else {}


async def test_anonymous_page_view_redirects_to_login_with_next(make_client, engine) -> None:
    await make_notes(engine)
    client = await make_client(role=None)
    response = await client.get("/t/notes?page=1", allow_redirects=False)
    assert response.status == 302
    location = URL(response.headers["Location"])
    assert location.path == "/login" and dict(location.query) == {"next": "/t/notes?page=1"}
    login = await client.get(response.headers["Location"])
    assert login.status == 200
    assert 'name="next" value="/t/notes?page=1"' in await login.text()


async def test_sign_in_returns_to_next_and_header_shows_user_role_and_logout(
    make_client, engine
) -> None:
    await make_notes(engine)
    client = await make_client(role=None)
    await add_test_user(client.server.app, "editor", "erin")
    token = await form_token(client, "/login?next=/t/notes")
    response = await client.post(
        "/login",
        data={
            "csrf_token": token,
            "username": "erin",
            "password": TEST_PASSWORD,
            "next": "/t/notes",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/t/notes"
    body = await (await client.get("/t/notes")).text()
    assert re.search(r'class="user">erin <span class="role">editor</span>', body)
    assert 'action="/logout"' in body
    assert 'href="/admin/users"' not in body


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil", "x"])
async def test_next_outside_the_site_is_replaced_by_the_index(make_client, target: str) -> None:
    client = await make_client(role=None)
    await add_test_user(client.server.app, "viewer", "vic")
    token = await form_token(client)
    response = await client.post(
        "/login",
        data={"csrf_token": token, "username": "vic", "password": TEST_PASSWORD, "next": target},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/"


async def test_login_without_the_form_token_is_403_and_signs_nobody_in(make_client) -> None:
    client = await make_client(role=None)
    await add_test_user(client.server.app, "admin", "ann")
    await client.get("/login")
    response = await client.post(
        "/login",
        data={"csrf_token": "forged", "username": "ann", "password": TEST_PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 403
    assert "security token is wrong" in await response.text()
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_session_cookie_changes_at_login_and_old_cookie_is_dead_after_logout(
    make_client,
) -> None:
    client = await make_client(role=None)
    await add_test_user(client.server.app, "viewer", "vic")
    token = await form_token(client)
    anonymous_cookie = cookie_of(client)
    assert anonymous_cookie
    response = await client.post(
        "/login",
        data={"csrf_token": token, "username": "vic", "password": TEST_PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 303
    signed_in_cookie = cookie_of(client)
    assert signed_in_cookie and signed_in_cookie != anonymous_cookie
    page = await (await client.get("/")).text()
    logout_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert logout_token != token  # a new session has a new form token
    response = await client.post(
        "/logout", data={"csrf_token": logout_token}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert (await client.get("/", allow_redirects=False)).status == 302
    set_cookie(client, signed_in_cookie)  # a copy kept from before the logout
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/login")


async def test_idle_session_expires_and_last_seen_is_rewritten_at_most_once_a_minute(
    make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = AuthSettings(idle_timeout=600, password_hash=FAST_HASHING.password_hash)
    client = await make_client(role="viewer", auth=auth)
    start = time.time()
    monkeypatch.setattr(permissions, "now", lambda: start + 30)
    response = await client.get("/")
    assert response.status == 200
    assert COOKIE not in response.cookies  # seen 30 s ago: the cookie is not rewritten
    monkeypatch.setattr(permissions, "now", lambda: start + 300)
    response = await client.get("/")
    assert response.status == 200
    assert COOKIE in response.cookies  # last-seen refreshed
    monkeypatch.setattr(permissions, "now", lambda: start + 300 + 599)
    assert (await client.get("/", allow_redirects=False)).status == 200
    monkeypatch.setattr(permissions, "now", lambda: start + 300 + 599 + 601)
    response = await client.get("/t/x", allow_redirects=False)
    assert response.status == 302
    location = URL(response.headers["Location"])
    assert dict(location.query) == {"next": "/t/x", "expired": "1"}
    body = await (await client.get(response.headers["Location"])).text()
    assert "signed out after a while without activity" in body
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_unknown_user_and_wrong_password_answer_alike(
    make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(role=None)
    await add_test_user(client.server.app, "admin", "ann")
    verified: list[str | None] = []
    original = Passwords.verify

    async def counting_verify(self, stored, password):  # type: ignore[no-untyped-def]
        verified.append(stored)
        return await original(self, stored, password)

    monkeypatch.setattr(Passwords, "verify", counting_verify)
    answers = []
    for username in ("ann", "nobody"):
        token = await form_token(client)
        response = await client.post(
            "/login",
            data={"csrf_token": token, "username": username, "password": "wrong password"},
            allow_redirects=False,
        )
        body = await response.text()
        body = body.replace(token, "TOKEN").replace(f'value="{username}"', 'value="NAME"')
        answers.append((response.status, body))
    assert answers[0][0] == answers[1][0] == 401
    assert answers[0][1] == answers[1][1]
    assert "Wrong user name or password." in answers[0][1]
    assert len(verified) == 2  # the unknown name was verified too (against a dummy hash)


async def test_disabled_user_gets_the_same_answer_and_loses_open_sessions(
    make_client, engine
) -> None:
    client = await make_client(role="viewer")
    assert (await client.get("/")).status == 200
    await client.server.app[ACCOUNTS].set_disabled("test-viewer", True)
    assert (await client.get("/", allow_redirects=False)).status == 302
    response = await sign_in_as(client, "test-viewer")
    assert response.status == 401
    assert "Wrong user name or password." in await response.text()
    assert (await user_row(engine, "test-viewer"))["disabled"]


async def test_failed_logins_are_throttled_per_user_name_with_429(make_client, engine) -> None:
    auth = AuthSettings(
        max_failures_per_user=3,
        max_failures_per_address=100,
        password_hash=FAST_HASHING.password_hash,
    )
    client = await make_client(role=None, auth=auth)
    await add_test_user(client.server.app, "viewer", "vic")
    for _ in range(3):
        assert (await sign_in_as(client, "vic", "wrong password")).status == 401
    response = await sign_in_as(client, "vic")  # even the right password now
    assert response.status == 429
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in await response.text()
    assert 0 < int(response.headers["Retry-After"]) <= 900
    assert (await client.get("/", allow_redirects=False)).status == 302
    # the state is in the database, where a second server process would see it too
    async with engine.connect() as conn:
        subjects = (await conn.scalars(text("SELECT subject FROM webapp_login_failures"))).all()
    assert subjects.count("user:vic") == 3
    # another name from the same address is not affected by this name's limit
    await add_test_user(client.server.app, "viewer", "val")
    assert (await sign_in_as(client, "val")).status == 303


async def test_failed_logins_are_throttled_per_address(make_client) -> None:
    auth = AuthSettings(
        max_failures_per_user=100,
        max_failures_per_address=4,
        password_hash=FAST_HASHING.password_hash,
    )
    client = await make_client(role=None, auth=auth)
    await add_test_user(client.server.app, "viewer", "vic")
    for name in ("a", "b", "c", "d"):
        assert (await sign_in_as(client, name, "wrong password")).status == 401
    response = await sign_in_as(client, "vic")
    assert response.status == 429
    assert "Too many failed sign-in attempts" in await response.text()


async def test_successful_login_forgives_earlier_failures_of_that_name(make_client) -> None:
    auth = AuthSettings(max_failures_per_user=3, password_hash=FAST_HASHING.password_hash)
    client = await make_client(role=None, auth=auth)
    await add_test_user(client.server.app, "viewer", "vic")
    for _ in range(2):
        assert (await sign_in_as(client, "vic", "wrong password")).status == 401
    assert (await sign_in_as(client, "vic")).status == 303
    client.session.cookie_jar.clear()
    for _ in range(2):
        assert (await sign_in_as(client, "vic", "wrong password")).status == 401
    assert (await sign_in_as(client, "vic")).status == 303


async def test_hash_made_with_old_parameters_is_redone_at_sign_in(
    make_client, engine: AsyncEngine
) -> None:
    old = Accounts.on(engine, FAST_HASHING)
    await old.migrate()
    await old.add_user("olga", "viewer", TEST_PASSWORD)
    before = (await user_row(engine, "olga"))["password_hash"]
    assert "t=1," in before
    stronger = AuthSettings(
        password_hash=PasswordHashSettings(time_cost=2, memory_kib=128, parallelism=1)
    )
    client = await make_client(role=None, auth=stronger)
    assert (await sign_in_as(client, "olga")).status == 303
    after = (await user_row(engine, "olga"))["password_hash"]
    assert after != before and "m=128,t=2,p=1" in after
    client.session.cookie_jar.clear()
    assert (await sign_in_as(client, "olga")).status == 303
    assert (await user_row(engine, "olga"))["password_hash"] == after


async def test_app_tables_are_hidden_from_every_page(make_client, engine: AsyncEngine) -> None:
    accounts = Accounts.on(engine, FAST_HASHING)
    await accounts.migrate()
    metadata = MetaData()
    Table("webapp_users", metadata, Column("id", Integer, primary_key=True))
    Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("author", Integer, ForeignKey("webapp_users.id")),
        Column("body", String(50)),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.tables["notes"].create)
    await accounts.add_user("wendy", "viewer", TEST_PASSWORD)
    async with engine.begin() as conn:
        wendy = await conn.scalar(text("SELECT id FROM webapp_users"))
        await conn.execute(text("INSERT INTO notes VALUES (1, :a, 'hi')"), {"a": wendy})
    client = await make_client()
    index = await (await client.get("/")).text()
    assert 'href="/t/notes"' in index
    for name in (
        "webapp_users",
        "webapp_schema_version",
        "webapp_login_failures",
        "webapp_sign_in_tokens",
        "webapp_audit_log",
    ):
        assert name not in index
        assert (await client.get(f"/t/{name}")).status == 404
    record = await (await client.get("/t/notes/r/1")).text()
    assert "/t/webapp_users" not in record
    table = await (await client.get("/t/notes")).text()
    assert "/t/webapp_users" not in table


async def test_schema_version_records_each_migration_step_once(
    make_client, engine: AsyncEngine
) -> None:
    await make_client()
    async with engine.connect() as conn:
        versions = (await conn.scalars(text("SELECT version FROM webapp_schema_version"))).all()
    assert versions and sorted(versions) == list(range(1, len(MIGRATIONS) + 1))
    again = Accounts.on(engine, FAST_HASHING)
    await again.migrate()
    async with engine.connect() as conn:
        versions = (await conn.scalars(text("SELECT version FROM webapp_schema_version"))).all()
    assert versions and sorted(versions) == list(range(1, len(MIGRATIONS) + 1))


async def test_app_tables_can_live_in_a_separate_database(
    make_client, engine: AsyncEngine, tmp_path
) -> None:
    from sqlalchemy.engine import make_url

    await make_notes(engine)
    auth = AuthSettings(
        database_url=make_url(f"sqlite+aiosqlite:///{tmp_path / 'users.db'}"),
        table_prefix="app_",
        password_hash=FAST_HASHING.password_hash,
    )
    client = await make_client(auth=auth)
    assert (await client.get("/t/notes")).status == 200
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    assert names == ["notes"]
    assert (tmp_path / "users.db").exists()
    accounts = client.server.app[ACCOUNTS]
    async with accounts.sessionmaker() as session:
        users = (await session.scalars(select(accounts.models.user.username))).all()
    assert users == ["test-admin"]


async def test_signed_in_page_views_run_no_users_query_while_the_state_is_cached(
    make_client, engine: AsyncEngine
) -> None:
    from sqlalchemy import event

    from webapp.web.appkeys import ENGINE, READ_ENGINE

    await make_notes(engine)
    client = await make_client(role="viewer")
    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    assert (await client.get("/t/notes")).status == 200  # fills the cache
    app = client.server.app
    for watched in {app[ENGINE].sync_engine, app[READ_ENGINE].sync_engine}:
        event.listen(watched, "before_cursor_execute", remember)
    for _ in range(5):
        assert (await client.get("/t/notes")).status == 200
    assert not [s for s in statements if "webapp_users" in s]
    client.server.app[ACCOUNTS].states.drop(
        (await user_row(engine, "test-viewer"))["id"]
    )  # as if the few seconds had passed
    assert (await client.get("/t/notes")).status == 200
    assert len([s for s in statements if "webapp_users" in s]) == 1
