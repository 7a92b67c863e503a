"""Backend fixtures: one suite runs on SQLite always, and on MariaDB and PostgreSQL when
WEBAPP_TEST_MYSQL_URL / WEBAPP_TEST_POSTGRES_URL name a server. Each test gets a database of
its own, created fresh and dropped afterwards."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from webapp.app import create_app
from webapp.keys import ACCOUNTS, SETTINGS
from webapp.settings import AuthSettings, PasswordHashSettings, settings_for_url

TEST_PASSWORD = "correct horse battery"
# Cheap Argon2id parameters, so that signing in does not dominate the suite's time.
FAST_HASHING = AuthSettings(
    password_hash=PasswordHashSettings(time_cost=1, memory_kib=64, parallelism=1)
)

SERVER_URL_VARIABLES = {
    "mysql": "WEBAPP_TEST_MYSQL_URL",
    "postgresql": "WEBAPP_TEST_POSTGRES_URL",
}


def backend_params() -> list:
    """SQLite always; the server backends are skipped (visibly) when their URL is unset."""
    params = [pytest.param("sqlite", id="sqlite")]
    for name, variable in SERVER_URL_VARIABLES.items():
        marks = []
        if not os.environ.get(variable):
            marks.append(pytest.mark.skip(reason=f"{variable} is not set"))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty database of its own on the requested backend."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    server_url = make_url(os.environ[SERVER_URL_VARIABLES[backend]])
    name = f"webapp_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            if backend == "mysql":
                await conn.execute(
                    text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                )
            else:
                await conn.execute(
                    text(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
                )
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            if backend == "mysql":
                await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            else:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's own database, for arranging data and checking results."""
    eng = create_async_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


async def form_token(client, path: str = "/login") -> str:  # type: ignore[no-untyped-def]
    """The CSRF token of the form on `path`."""
    body = await (await client.get(path)).text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', body)
    assert match, f"no form token on {path}"
    return match.group(1)


async def sign_in_as(client, username: str, password: str = TEST_PASSWORD):  # type: ignore[no-untyped-def]
    """Sign the client in through the login form; return the response (not followed)."""
    token = await form_token(client)
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": "/"},
        allow_redirects=False,
    )


async def add_test_user(app: web.Application, role: str, username: str | None = None) -> str:
    """A user created straight in the test database; returns its name."""
    username = username or role
    await app[ACCOUNTS].add_user(username, role, TEST_PASSWORD)
    return username


async def signed_in_client(client, role: str):  # type: ignore[no-untyped-def]
    app = client.server.app
    username = await add_test_user(app, role, f"test-{role}")
    response = await sign_in_as(client, username)
    assert response.status == 303, await response.text()
    return client


@pytest.fixture
def aiohttp_client(aiohttp_client):  # type: ignore[no-untyped-def]
    """pytest-aiohttp's client, signed in as an admin when given this app (`role=None` for
    an anonymous one, or another role), so that tests of pages need not care about login."""

    async def make(app, *args, role: str | None = "admin", **kwargs):  # type: ignore[no-untyped-def]
        client = await aiohttp_client(app, *args, **kwargs)
        if role is not None and isinstance(app, web.Application) and SETTINGS in app:
            await signed_in_client(client, role)
        return client

    return make


@pytest.fixture
def make_client(aiohttp_client, db_url: str):  # type: ignore[no-untyped-def]
    """Start the app on the test's database (arrange tables first: the catalog is reflected
    at startup) and return a test client signed in as an admin (`role=None`: anonymous;
    or "viewer", "editor"); `changes` override Settings fields."""

    async def make(*, role: str | None = "admin", **changes):  # type: ignore[no-untyped-def]
        changes.setdefault("auth", FAST_HASHING)
        settings = settings_for_url(db_url, **changes)
        return await aiohttp_client(create_app(settings), role=role)

    make.__wrapped_aiohttp_client__ = aiohttp_client
    return make
