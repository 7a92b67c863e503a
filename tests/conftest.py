"""Backend fixtures: one suite runs on SQLite always, and on MariaDB and PostgreSQL when
WEBAPP_TEST_MYSQL_URL / WEBAPP_TEST_POSTGRES_URL name a server. Each test gets a database of
its own, created fresh and dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from webapp.app import create_app
from webapp.settings import settings_for_url

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


@pytest.fixture
def make_client(aiohttp_client, db_url: str):  # type: ignore[no-untyped-def]
    """Start the app on the test's database (arrange tables first: the catalog is reflected
    at startup) and return a test client; `changes` override Settings fields."""

    async def make(**changes):  # type: ignore[no-untyped-def]
        settings = settings_for_url(db_url, **changes)
        return await aiohttp_client(create_app(settings))

    make.__wrapped_aiohttp_client__ = aiohttp_client
    return make
