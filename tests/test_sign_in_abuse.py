"""Sign-in under abuse, on every backend: concurrent guesses cannot pass the throttle, a
stranger cannot lock an owner out, hashing runs a bounded number at once, every spelling of
a name is throttled without a 500, and the session cookie is Secure, `__Host-` named and
ends a fixed time after sign-in."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import replace

import pytest
from aiohttp import web
from argon2 import PasswordHasher
from sqlalchemy import text
from yarl import URL

from tests.helpers import FAST_HASHING, TEST_PASSWORD, add_test_user, form_token, sign_in_as
from webapp import clock
from webapp.app import create_app
from webapp.settings import AuthSettings, Settings, settings_for_url
from webapp.web.errors import Handler

ADDRESS_HEADER = "X-Test-Remote"


def auth_settings(**changes: int) -> AuthSettings:
    return AuthSettings(password_hash=FAST_HASHING.password_hash, **changes)


@web.middleware
async def address_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let a test choose the client address a request comes from."""
    address = request.headers.get(ADDRESS_HEADER)
    if address is None:
        return await handler(request)
    return await handler(request.clone(remote=address))


@web.middleware
async def https_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Make every request look as if it came over HTTPS."""
    return await handler(request.clone(scheme="https"))


def patient_settings(db_url: str, auth: AuthSettings) -> Settings:
    """Settings whose requests wait up to a minute for a pooled connection: these tests send
    dozens of sign-ins at once to ten pooled connections, and on a loaded machine the default
    five-second wait can end in a 503, which is not what they are about."""
    settings = settings_for_url(db_url, auth=auth)
    return replace(settings, database=replace(settings.database, pool_timeout=60.0))


async def client_with(app_client, db_url: str, middleware, auth: AuthSettings):
    app = create_app(patient_settings(db_url, auth))
    app.middlewares.insert(0, middleware)
    return await app_client(app, role=None)


class CountingHasher:
    """Counts PasswordHasher.verify calls and the most that ran at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, pause: float = 0.0) -> None:
        self.calls = 0
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()
        original = PasswordHasher.verify

        def verify(hasher, stored, password):
            with self._lock:
                self.calls += 1
                self.running += 1
                self.most = max(self.most, self.running)
            try:
                time.sleep(pause)
                return original(hasher, stored, password)
            finally:
                with self._lock:
                    self.running -= 1

        monkeypatch.setattr(PasswordHasher, "verify", verify)


async def post_sign_in(
    client, token: str, username: str, password: str, address: str | None = None
):
    headers = {ADDRESS_HEADER: address} if address else {}
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": "/"},
        headers=headers,
        allow_redirects=False,
    )


async def test_concurrent_wrong_passwords_reach_the_hash_at_most_the_limit(
    app_client, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = auth_settings(max_failures_per_user=5, max_failures_per_address=1000)
    client = await app_client(create_app(patient_settings(db_url, auth)), role=None)
    await add_test_user(client.server.app, "viewer", "vic")
    hasher = CountingHasher(monkeypatch)
    token = await form_token(client)
    responses = await asyncio.gather(
        *(post_sign_in(client, token, "vic", f"wrong {n}") for n in range(50))
    )
    statuses = sorted(response.status for response in responses)
    assert set(statuses) <= {401, 429}, statuses
    assert hasher.calls <= 5
    assert statuses.count(401) == hasher.calls
    # refused attempts were not counted: the rest of the limit is still there, no more
    while (await post_sign_in(client, token, "vic", "wrong again")).status == 401:
        pass
    assert hasher.calls == 5
    assert (await sign_in_as(client, "vic")).status == 429


async def test_hashing_runs_a_bounded_number_at_once(
    make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(role=None, auth=auth_settings(max_concurrent_hashes=2))
    for n in range(6):
        await add_test_user(client.server.app, "viewer", f"user{n}")
    hasher = CountingHasher(monkeypatch, pause=0.05)
    token = await form_token(client)
    responses = await asyncio.gather(
        *(post_sign_in(client, token, f"user{n}", "wrong password") for n in range(6))
    )
    assert [response.status for response in responses] == [401] * 6
    assert hasher.calls == 6
    assert hasher.most == 2


async def test_hashes_run_one_at_a_time_by_default(
    make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(role=None)
    for n in range(4):
        await add_test_user(client.server.app, "viewer", f"user{n}")
    hasher = CountingHasher(monkeypatch, pause=0.05)
    token = await form_token(client)
    responses = await asyncio.gather(
        *(post_sign_in(client, token, f"user{n}", "wrong password") for n in range(4))
    )
    assert [response.status for response in responses] == [401] * 4
    assert hasher.calls == 4
    assert hasher.most == 1


async def test_a_stranger_cannot_lock_the_owner_out(app_client, db_url) -> None:
    auth = auth_settings(
        max_failures_per_user=3, max_failures_per_user_total=5, max_failures_per_address=100
    )
    client = await client_with(app_client, db_url, address_middleware, auth)
    await add_test_user(client.server.app, "viewer", "vic")
    token = await form_token(client)
    for _ in range(3):
        assert (await post_sign_in(client, token, "vic", "guess", "10.0.0.66")).status == 401
    refused = await post_sign_in(client, token, "vic", TEST_PASSWORD, "10.0.0.66")
    assert refused.status == 429  # the guesser's address is throttled for the name...
    owner = await post_sign_in(client, token, "vic", TEST_PASSWORD, "10.0.0.1")
    assert owner.status == 303  # ...the owner elsewhere is not


async def test_failures_from_many_addresses_reach_the_per_name_ceiling(app_client, db_url) -> None:
    auth = auth_settings(
        max_failures_per_user=3, max_failures_per_user_total=4, max_failures_per_address=100
    )
    client = await client_with(app_client, db_url, address_middleware, auth)
    await add_test_user(client.server.app, "viewer", "vic")
    token = await form_token(client)
    for n in range(4):
        assert (await post_sign_in(client, token, "vic", "guess", f"10.0.1.{n}")).status == 401
    response = await post_sign_in(client, token, "vic", TEST_PASSWORD, "10.0.2.1")
    assert response.status == 429
    assert 0 < int(response.headers["Retry-After"]) <= 900


async def test_every_spelling_of_a_name_is_throttled_without_a_500(
    make_client, engine, backend: str
) -> None:
    """Under an accent-insensitive collation (as MariaDB databases often have) the failures
    of `ghost` are those of `ghóst` too."""
    auth = auth_settings(max_failures_per_user=3, max_failures_per_address=100)
    client = await make_client(role=None, auth=auth)
    if backend == "mysql":
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "ALTER TABLE webapp_login_failures MODIFY subject VARCHAR(200) "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL"
                )
            )
    await add_test_user(client.server.app, "viewer", "ghóst")
    for _ in range(3):
        assert (await sign_in_as(client, "ghost", "wrong password")).status == 401
    assert (await sign_in_as(client, "ghost", "wrong password")).status == 429
    other = await sign_in_as(client, "ghóst")
    assert other.status == (429 if backend == "mysql" else 303)


async def test_cookie_over_https_is_secure_and_host_prefixed(app_client, db_url) -> None:
    client = await client_with(app_client, db_url, https_middleware, auth_settings())
    await add_test_user(client.server.app, "viewer", "vic")
    page = await client.get("/login")
    cookie = page.cookies["__Host-webapp_session"]
    assert cookie["secure"] and cookie["path"] == "/" and not cookie["domain"]
    assert cookie["httponly"]
    assert "webapp_session" not in page.cookies
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
    client.session.cookie_jar.clear()
    jar = {"Cookie": f"__Host-webapp_session={cookie.value}"}
    response = await client.post(
        "/login",
        data={"csrf_token": token, "username": "vic", "password": TEST_PASSWORD, "next": "/"},
        headers=jar,
        allow_redirects=False,
    )
    assert response.status == 303
    signed_in = response.cookies["__Host-webapp_session"]
    assert signed_in["secure"]
    client.session.cookie_jar.clear()
    headers = {"Cookie": f"__Host-webapp_session={signed_in.value}"}
    assert (await client.get("/", headers=headers, allow_redirects=False)).status == 200
    # the plain name is not accepted over HTTPS
    plain = {"Cookie": f"webapp_session={signed_in.value}"}
    assert (await client.get("/", headers=plain, allow_redirects=False)).status == 302


async def test_cookie_over_plain_http_keeps_the_plain_name(make_client) -> None:
    client = await make_client(role=None)
    page = await client.get("/login")
    cookie = page.cookies["webapp_session"]
    assert not cookie["secure"]
    assert "__Host-webapp_session" not in page.cookies


async def test_session_ends_at_max_session_age_however_active(
    make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = auth_settings(idle_timeout=7200, max_session_age=3600)
    client = await make_client(role="viewer", auth=auth)
    start = time.time()
    for offset in (1200, 2400, 3500):  # active all along: never idle
        monkeypatch.setattr(clock, "now", lambda offset=offset: start + offset)
        assert (await client.get("/", allow_redirects=False)).status == 200
    monkeypatch.setattr(clock, "now", lambda: start + 3700)
    response = await client.get("/t/x", allow_redirects=False)
    assert response.status == 302
    location = URL(response.headers["Location"])
    assert dict(location.query) == {"next": "/t/x", "expired": "age"}
    body = await (await client.get(response.headers["Location"])).text()
    assert "a session lasts a limited time after signing in" in body
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_concurrent_failures_from_many_addresses_are_all_counted(
    app_client, db_url, engine
) -> None:
    """Many addresses failing for one name at once: each answer a 401, each failure counted
    once (nothing lost to lock waits or deadlocks between the counting transactions)."""
    auth = auth_settings(
        max_failures_per_user=5, max_failures_per_user_total=1000, max_failures_per_address=5
    )
    client = await client_with(app_client, db_url, address_middleware, auth)
    await add_test_user(client.server.app, "viewer", "vic")
    token = await form_token(client)
    responses = await asyncio.gather(
        *(post_sign_in(client, token, "vic", "guess", f"10.0.3.{n}") for n in range(30))
    )
    assert [response.status for response in responses] == [401] * 30
    async with engine.connect() as conn:
        total = await conn.scalar(
            text("SELECT COUNT(*) FROM webapp_login_failures WHERE subject = 'user:vic'")
        )
    assert total == 30
