"""Backend fixtures: one suite runs on SQLite always, and on MariaDB and PostgreSQL when
WEBAPP_TEST_MYSQL_URL / WEBAPP_TEST_POSTGRES_URL name a server.

Two kinds of database: `db_url` (with `engine`, `make_client`) is a test's own, created fresh
and dropped afterwards, for tests that write; `module_db_url` (with `module_engine`,
`module_client`) is shared by the tests of one module on one backend, for tests that only
read what the module arranged once. Helpers live in tests/helpers.py."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.fault_proxy import FaultProxy
from tests.helpers import (
    CHROMIUM,
    FAST_HASHING,
    SERVER_URL_VARIABLES,
    backends_left_out,
    backends_under_test,
    signed_in_client,
)
from webapp.app import create_app
from webapp.settings import settings_for_url
from webapp.web.appkeys import SETTINGS


def pytest_report_header(config: pytest.Config) -> str:
    return f"backends: {', '.join(backends_under_test())}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line for the backends left out, instead of one skip per test."""
    missing = backends_left_out()
    if missing:
        terminalreporter.write_line(f"backends not tested: {', '.join(missing)}", yellow=True)


@pytest.fixture(scope="module", params=backends_under_test())
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test; module-scoped, so a module's tests on one backend run
    together and can share one database."""
    return request.param


async def create_database(backend: str, directory: Path) -> tuple[str, Callable[[], Awaitable]]:
    """A URL of a new empty database on `backend`, and the coroutine function that drops it.
    Server database names carry the xdist worker's name, so parallel workers never meet."""
    if backend == "sqlite":
        path = directory / f"test_{uuid.uuid4().hex[:8]}.db"

        async def forget() -> None:
            path.unlink(missing_ok=True)

        return f"sqlite+aiosqlite:///{path}", forget
    server_url = make_url(os.environ[SERVER_URL_VARIABLES[backend]])
    if backend == "postgresql":
        return await _postgres_database(server_url)
    name = _database_name()
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(
                text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            )
    finally:
        await admin.dispose()

    async def drop() -> None:
        admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        finally:
            await admin.dispose()

    return server_url.set(database=name).render_as_string(hide_password=False), drop


def _database_name() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"webapp_test_{worker}_{uuid.uuid4().hex[:10]}"


# PostgreSQL copies a whole template to create a database, which costs far more than a test
# on it; so a test's database, once emptied to what a new one holds, is handed to the next
# test of this process instead of being dropped. All are dropped when the session ends.
_POSTGRES_FREE: list[str] = []
_POSTGRES_MADE: list[str] = []


async def _postgres_database(server_url: URL) -> tuple[str, Callable[[], Awaitable]]:
    if _POSTGRES_FREE:
        name = _POSTGRES_FREE.pop()
    else:
        name = _database_name()
        admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.execute(
                    text(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
                )
        finally:
            await admin.dispose()
        _POSTGRES_MADE.append(name)
    url = server_url.set(database=name)

    async def give_back() -> None:
        await _empty_postgres_database(url)
        _POSTGRES_FREE.append(name)

    return url.render_as_string(hide_password=False), give_back


async def _empty_postgres_database(url: URL) -> None:
    """Make the database hold what `CREATE DATABASE ... TEMPLATE template0` gives: no
    connection but this one, no schema but an empty `public` with its default rights."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            schemas = await conn.scalars(
                text(
                    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                    "AND nspname <> 'information_schema'"
                )
            )
            for schema in list(schemas):
                quoted = schema.replace('"', '""')
                await conn.execute(text(f'DROP SCHEMA "{quoted}" CASCADE'))
            await conn.execute(text("CREATE SCHEMA public AUTHORIZATION pg_database_owner"))
            await conn.execute(text("GRANT USAGE ON SCHEMA public TO PUBLIC"))
    finally:
        await engine.dispose()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the PostgreSQL databases this process kept for reuse."""
    if not _POSTGRES_MADE:
        return
    server_url = make_url(os.environ[SERVER_URL_VARIABLES["postgresql"]])

    async def drop_all() -> None:
        admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                for name in _POSTGRES_MADE:
                    await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        finally:
            await admin.dispose()

    asyncio.run(drop_all())


@pytest.fixture
async def db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty database of the test's own on the requested backend."""
    url, drop = await create_database(backend, tmp_path)
    try:
        yield url
    finally:
        await drop()


@pytest_asyncio.fixture(scope="module")
async def module_db_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A URL of a database shared by this module's tests on this backend: arrange it once
    (a module-scoped fixture), and only read it in the tests."""
    url, drop = await create_database(backend, tmp_path_factory.mktemp("module-db"))
    try:
        yield url
    finally:
        await drop()


@pytest.fixture
async def fault_proxy(db_url: str, backend: str) -> AsyncIterator[FaultProxy]:
    """A FaultProxy in front of the test database's server (MySQL and PostgreSQL; SQLite
    has no server and is skipped). `fault_proxy.url_for(make_url(db_url))` reaches the test
    database through it."""
    if backend == "sqlite":
        pytest.skip("an embedded database has no connection to put faults on")
    url = make_url(db_url)
    default_port = 3306 if backend == "mysql" else 5432
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or default_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's own database, for arranging data and checking results."""
    eng = create_async_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest_asyncio.fixture(scope="module")
async def module_engine(module_db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the module's shared database."""
    eng = create_async_engine(module_db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def app_client(aiohttp_client):
    """pytest-aiohttp's `aiohttp_client`, signed in as an admin when given this app
    (`role=None` for an anonymous one, or another role), so that tests of pages need not
    care about login."""

    async def make(app, *args, role: str | None = "admin", **kwargs):
        client = await aiohttp_client(app, *args, **kwargs)
        if role is not None and isinstance(app, web.Application) and SETTINGS in app:
            await signed_in_client(client, role)
        return client

    return make


@pytest.fixture
def make_client(app_client, db_url: str):
    """Start the app on the test's database (arrange tables first: the catalog is reflected
    at startup) and return a test client signed in as an admin (`role=None`: anonymous;
    or "viewer", "editor"); `changes` override Settings fields."""

    async def make(*, role: str | None = "admin", **changes):
        changes.setdefault("auth", FAST_HASHING)
        settings = settings_for_url(db_url, **changes)
        return await app_client(create_app(settings), role=role)

    return make


@pytest_asyncio.fixture(scope="module")
async def module_client(module_db_url: str) -> AsyncIterator[Any]:
    """`await module_client(role=..., **changes)`: like `make_client`, on the module's shared
    database, and made once per module: one app per distinct `changes`, one signed-in client
    per role on it. Arrange the module's data before the first call."""
    servers: dict[str, TestServer] = {}
    clients: dict[tuple[str, str | None], TestClient] = {}

    async def make(*, role: str | None = "admin", **changes: Any) -> TestClient:
        changes.setdefault("auth", FAST_HASHING)
        app_key = repr(sorted(changes.items()))
        if (app_key, role) not in clients:
            if app_key not in servers:
                server = TestServer(create_app(settings_for_url(module_db_url, **changes)))
                await server.start_server()
                servers[app_key] = server
            client = TestClient(servers[app_key])
            await client.start_server()
            if role is not None:
                await signed_in_client(client, role)
            clients[app_key, role] = client
        return clients[app_key, role]

    try:
        yield make
    finally:
        for client in clients.values():
            await client.close()
        for server in servers.values():
            await server.close()


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bulk changes and their reverts in batches of a few rows, so that a test's rows take
    several (`pytestmark = pytest.mark.usefixtures("small_batches")`)."""
    from webapp.changes import bulk_writes, revert_sets

    monkeypatch.setattr(bulk_writes, "BATCH_ROWS", 7)
    monkeypatch.setattr(revert_sets, "BATCH_ROWS", 7)


@pytest.fixture
def open_form():
    """GET a page with a form (which also gives the session its CSRF token) and return the
    form as a browser would submit it."""
    from tests.helpers import BrowserForm, parse_form

    async def open_(client, url: str) -> BrowserForm:
        response = await client.get(url)
        assert response.status == 200, (url, response.status, await response.text())
        return parse_form(await response.text())

    return open_


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium for the browser tests, or a skip; in CI (CI set) a missing browser
    is a failure."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing")
    return CHROMIUM
