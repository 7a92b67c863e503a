"""Faults between the app and its database (a silent, refusing or cutting server, through
tests/fault_proxy.py), killed connections, a SQLite file locked by another program, and
clients that trickle a body or stop reading a download: every wait ends within its stated
bound, with a 503 (or 408) instead of a hang or a 500, and the app recovers by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError
from aiohttp.test_utils import make_mocked_request
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fault_proxy import FaultProxy
from tests.helpers import FAST_HASHING, REPO, TEST_PASSWORD, drop_server_connections, form_token
from webapp.app import create_app
from webapp.database import dialects
from webapp.database.dialects import is_timeout, read_timeout
from webapp.settings import DatabaseSettings, Settings, settings_for_url
from webapp.web.appkeys import ACCOUNTS, EXPENSIVE_QUERIES, READ_ENGINE
from webapp.web.error_pages import error_middleware
from webapp.web.errors import first_line

# Small bounds, so that a test of a fault takes seconds.
BOUNDS = {
    "connect_timeout": 1.0,
    "statement_timeout": 1.0,
    "pool_timeout": 1.0,
    "lock_timeout": 1.0,
}
# The most a request may take against a silent database with BOUNDS: a read on a pooled
# connection gives up at read_timeout, the retry waits for the pool and then to connect at
# most pool_timeout + connect_timeout; with room for a slow machine.
SILENT_BOUND = 1.5 * (
    BOUNDS["statement_timeout"]
    + dialects.READ_MARGIN_SECONDS
    + BOUNDS["pool_timeout"]
    + BOUNDS["connect_timeout"]
)


def bounded_settings(url: str, **changes) -> Settings:
    settings = settings_for_url(url, auth=FAST_HASHING, **changes)
    return settings.with_overrides(database=replace(settings.database, **BOUNDS))


async def make_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INT PRIMARY KEY, label VARCHAR(20))"))
        await conn.execute(text("INSERT INTO t VALUES (1, 'one')"))


async def label_of_row_1(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return await conn.scalar(text("SELECT label FROM t WHERE id = 1"))


async def open_form_within_bounds(client, url: str, open_form):
    """The form, read again if a busy machine made the first read outlast the one-second
    statement bound (a 503 there is the bound working, not what the test is about)."""
    for _ in range(2):
        response = await client.get(url)
        if response.status != 503:
            break
    return await open_form(client, url)


async def timed(coroutine):
    start = time.monotonic()
    result = await coroutine
    return result, time.monotonic() - start


# --- a silent, refusing or cutting database ----------------------------------------------------


async def test_a_silent_database_gives_503_within_the_bound_then_recovers(
    app_client, engine: AsyncEngine, db_url: str, fault_proxy: FaultProxy
) -> None:
    await make_table(engine)
    url = fault_proxy.url_for(make_url(db_url)).render_as_string(hide_password=False)
    client = await app_client(create_app(bounded_settings(url)))
    assert (await client.get("/t/t/r/1")).status == 200

    fault_proxy.mode = "blackhole"
    results = await asyncio.gather(*(timed(client.get("/t/t/r/1")) for _ in range(6)))
    for response, elapsed in results:
        assert response.status == 503
        assert "cannot be reached" in await response.text()
        assert response.headers["Retry-After"]
        assert elapsed < SILENT_BOUND, elapsed

    fault_proxy.mode = "pass"
    response = await client.get("/t/t/r/1")
    assert response.status == 200
    assert "one" in await response.text()


async def test_a_refusing_database_gives_503_at_once_then_recovers(
    app_client, engine: AsyncEngine, db_url: str, fault_proxy: FaultProxy
) -> None:
    await make_table(engine)
    url = fault_proxy.url_for(make_url(db_url)).render_as_string(hide_password=False)
    client = await app_client(create_app(bounded_settings(url)))
    assert (await client.get("/t/t/r/1")).status == 200
    fault_proxy.mode = "refuse"
    await asyncio.sleep(0.1)  # the listener closes
    response, elapsed = await timed(client.get("/t/t/r/1"))
    assert response.status == 503
    assert elapsed < BOUNDS["connect_timeout"] * 2, elapsed  # refused, not waited for
    fault_proxy.mode = "pass"
    await asyncio.sleep(0.1)
    assert (await client.get("/t/t/r/1")).status == 200


async def test_a_slow_database_within_the_bounds_still_answers(
    app_client, engine: AsyncEngine, db_url: str, fault_proxy: FaultProxy
) -> None:
    await make_table(engine)
    url = fault_proxy.url_for(make_url(db_url)).render_as_string(hide_password=False)
    client = await app_client(create_app(bounded_settings(url)))
    fault_proxy.latency = 0.05
    fault_proxy.mode = "latency"
    response = await client.get("/t/t/r/1")
    assert response.status == 200
    assert "one" in await response.text()


async def test_start_against_a_silent_database_fails_in_one_line_within_the_bound(
    db_url: str, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    fault_proxy.mode = "blackhole"
    url = fault_proxy.url_for(make_url(db_url)).render_as_string(hide_password=False)
    config = tmp_path / "config.yaml"
    config.write_text(
        "database:\n  connect_timeout: 1\n  statement_timeout: 1\nserver:\n  port: 0\n",
        encoding="utf-8",
    )
    environment = {"WEBAPP_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "webapp",
        "--config",
        str(config),
        cwd=REPO,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    start = time.monotonic()
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    elapsed = time.monotonic() - start
    errors = stderr.decode().splitlines()
    assert process.returncode == 1
    assert "Traceback" not in stderr.decode()
    failures = [line for line in errors if line.startswith("webapp: error:")]
    assert len(failures) == 1, errors
    assert "cannot use the database" in failures[0]
    assert fault_proxy.accepted >= 1  # it did reach the silent server
    assert elapsed < 15, elapsed  # interpreter start, then connect_timeout


async def test_the_statement_and_read_limits_are_set_on_every_connection(
    db_url: str, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite statements are limited per block (statement_time_limit)")
    database = DatabaseSettings(url=make_url(db_url), statement_timeout=0.5)
    assert read_timeout(database) == 0.5 + dialects.READ_MARGIN_SECONDS
    engine = dialects.create_engine(database)
    sleep = "SELECT SLEEP(3)" if backend == "mysql" else "SELECT pg_sleep(3)"
    try:
        async with engine.connect() as conn:
            try:
                value = await conn.scalar(text(sleep))
            except DBAPIError as exc:
                assert is_timeout(exc)
            else:
                assert value == 1  # MariaDB: SLEEP interrupted by the limit returns 1
    finally:
        await engine.dispose()


# --- writes on connections that die ------------------------------------------------------------


async def test_a_write_whose_connection_is_cut_gives_503_and_writes_nothing(
    app_client, engine: AsyncEngine, db_url: str, fault_proxy: FaultProxy, open_form
) -> None:
    await make_table(engine)
    url = fault_proxy.url_for(make_url(db_url)).render_as_string(hide_password=False)
    client = await app_client(create_app(bounded_settings(url)))
    for attempt in range(3):
        form = await open_form(client, "/t/t/r/1/edit")
        form.set("label", f"changed {attempt}")
        fault_proxy.latency = 0.1
        fault_proxy.mode = "latency"
        submit = asyncio.ensure_future(form.submit(client))
        await asyncio.sleep(0.25 + 0.2 * attempt)  # inside the write, at a different point
        fault_proxy.mode = "cut"
        response = await submit
        fault_proxy.mode = "pass"
        assert response.status == 503, await response.text()
        assert "cannot be reached" in await response.text()
        assert await label_of_row_1(engine) == "one"
    form = await open_form(client, "/t/t/r/1/edit")
    form.set("label", "after")
    assert (await form.submit(client)).status == 303
    assert await label_of_row_1(engine) == "after"


async def test_the_first_write_after_pooled_connections_were_killed_succeeds(
    engine: AsyncEngine, backend: str, make_client, open_form
) -> None:
    """MySQL: its writes check out connections from a pool of their own, which pings."""
    if backend != "mysql":
        pytest.skip("writes share the pool of page views, which does not ping every checkout")
    await make_table(engine)
    client = await make_client()
    form = await open_form(client, "/t/t/r/1/edit")
    form.set("label", "after kill")
    await drop_server_connections(engine, backend)
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    assert await label_of_row_1(engine) == "after kill"


@pytest.mark.parametrize("lock_timeout", [1.0, 3.0])
async def test_a_row_locked_past_the_bounds_gives_503_and_writes_nothing(
    app_client, engine: AsyncEngine, db_url: str, backend: str, open_form, lock_timeout: float
) -> None:
    """Whichever bound ends the wait, the lock's or the statement's, the save is a 503."""
    if backend == "sqlite":
        pytest.skip("SQLite locks the file: see the next test")
    await make_table(engine)
    settings = bounded_settings(db_url)
    settings = settings.with_overrides(
        database=replace(settings.database, lock_timeout=lock_timeout)
    )
    client = await app_client(create_app(settings))
    form = await open_form_within_bounds(client, "/t/t/r/1/edit", open_form)
    form.set("label", "while locked")
    async with engine.connect() as holder:
        await holder.execute(text("SELECT * FROM t WHERE id = 1 FOR UPDATE"))
        response, elapsed = await timed(form.submit(client))
        await holder.rollback()
    assert response.status == 503, await response.text()
    assert response.headers["Retry-After"]
    assert elapsed < 10, elapsed
    assert await label_of_row_1(engine) == "one"


async def test_sqlite_locked_by_another_program_gives_503_with_retry_after(
    app_client, engine: AsyncEngine, db_url: str, backend: str, open_form
) -> None:
    if backend != "sqlite":
        pytest.skip("a SQLite file lock")
    await make_table(engine)
    app = create_app(bounded_settings(db_url))
    client = await app_client(app, role="editor")
    form = await open_form(client, "/t/t/r/1/edit")
    form.set("label", "while locked")
    other = sqlite3.connect(make_url(db_url).database or "", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        response = await form.submit(client)
        assert response.status == 503, await response.text()
        assert response.headers["Retry-After"]
        anonymous = await app_client(app, role=None)
        token = await form_token(anonymous)
        response = await anonymous.post(
            "/login",
            data={"csrf_token": token, "username": "test-editor", "password": "wrong", "next": "/"},
            allow_redirects=False,
        )
        assert response.status == 503, await response.text()
        assert response.headers["Retry-After"]
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await label_of_row_1(engine) == "one"
    response = await form.submit(client)
    assert response.status == 303
    assert await label_of_row_1(engine) == "while locked"


# --- clients that trickle or stop reading ------------------------------------------------------


async def test_a_request_body_sent_too_slowly_is_cut_with_408(make_client, engine) -> None:
    client = await make_client(role=None, body_timeout=0.5)
    # A session with a form token: without one the form is refused before it is read.
    await client.get("/login")
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(
        f"POST /login HTTP/1.1\r\nHost: test\r\nCookie: {cookie}\r\n".encode()
        + b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nuser"
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)  # to the end: the server closes
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"took longer than 0.5 seconds" in answer


async def test_a_download_nobody_reads_frees_its_slot_within_the_bound(
    app_client, engine: AsyncEngine, db_url: str
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE big (id INT PRIMARY KEY, body TEXT)"))
        await conn.execute(
            text("INSERT INTO big VALUES (:id, :body)"),
            [{"id": i, "body": "x" * 1000} for i in range(4000)],
        )
    settings = bounded_settings(db_url, send_timeout=1.0)
    settings = settings.with_overrides(database=replace(settings.database, pool_size=2))
    client = await app_client(create_app(settings))
    app = client.server.app
    assert app[EXPENSIVE_QUERIES].limit == 1
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
    loop = asyncio.get_running_loop()
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.setblocking(False)
    try:
        await loop.sock_connect(stalled, (client.server.host, client.server.port))
        await loop.sock_sendall(
            stalled, f"GET /t/big.csv HTTP/1.1\r\nHost: test\r\nCookie: {cookie}\r\n\r\n".encode()
        )
        for _ in range(100):  # the stalled download takes the slot
            if app[EXPENSIVE_QUERIES].taken:
                break
            await asyncio.sleep(0.05)
        assert app[EXPENSIVE_QUERIES].taken == 1
        busy = await client.get("/t/big.csv")
        assert busy.status == 503
        start = time.monotonic()
        while True:
            response = await client.get("/t/big.csv")
            if response.status == 200:
                break
            assert response.status == 503
            assert time.monotonic() - start < 15, "the stalled download kept its slot"
            await asyncio.sleep(0.2)
        body = await response.text()
        assert body.count("\n") == 4001
    finally:
        stalled.close()
    assert app[EXPENSIVE_QUERIES].taken == 0


async def test_a_client_that_leaves_is_not_logged_as_database_trouble(
    make_client, caplog: pytest.LogCaptureFixture
) -> None:
    async def leaves(request: web.Request) -> web.StreamResponse:
        raise ClientConnectionResetError("Cannot write to closing transport")

    client = await make_client(role=None)
    mocked = make_mocked_request("GET", "/gone", app=client.server.app)
    with caplog.at_level(logging.DEBUG, logger="webapp.web.error_pages"):
        response = await error_middleware(mocked, leaves)
    assert response.status == 400
    assert "database unavailable" not in caplog.text
    assert any(
        record.levelno == logging.DEBUG and "went away" in record.getMessage()
        for record in caplog.records
    )


async def test_a_statement_cut_at_its_limit_is_a_503_not_a_500(
    app_client, engine: AsyncEngine, db_url: str, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite statements have no standing limit")
    async with engine.begin() as conn:
        if backend == "mysql":
            await conn.execute(text("CREATE VIEW slow AS SELECT 1 AS id, SLEEP(3) AS s"))
        else:
            await conn.execute(
                text("CREATE VIEW slow AS SELECT id FROM (SELECT 1 AS id, pg_sleep(3)) AS x")
            )
    settings = bounded_settings(db_url)
    client = await app_client(create_app(settings))
    response = await client.get("/t/slow")
    assert response.status == 503, await response.text()
    assert "took too long" in await response.text()
    assert response.headers["Retry-After"]


async def test_shutdown_cuts_a_stalled_download_after_the_drain_time(
    engine: AsyncEngine, db_url: str
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE big (id INT PRIMARY KEY, body TEXT)"))
        await conn.execute(
            text("INSERT INTO big VALUES (:id, :body)"),
            [{"id": i, "body": "x" * 1000} for i in range(4000)],
        )
    settings = bounded_settings(db_url, send_timeout=600.0, shutdown_timeout=0.5)
    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        await app[ACCOUNTS].add_user("reader", "viewer", TEST_PASSWORD)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            base = f"http://127.0.0.1:{port}"
            page = await (await session.get(f"{base}/login")).text()
            # No token on the page fails the test right here.
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            signed_in = await session.post(
                f"{base}/login",
                data={"csrf_token": token, "username": "reader", "password": TEST_PASSWORD},
                allow_redirects=False,
            )
            assert signed_in.status == 303
            cookie = "; ".join(
                f"{name}={morsel.value}"
                for name, morsel in session.cookie_jar.filter_cookies(base).items()
            )
        loop = asyncio.get_running_loop()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.setblocking(False)
        await loop.sock_connect(stalled, ("127.0.0.1", port))
        await loop.sock_sendall(
            stalled, f"GET /t/big.csv HTTP/1.1\r\nHost: test\r\nCookie: {cookie}\r\n\r\n".encode()
        )
        for _ in range(100):
            if app[EXPENSIVE_QUERIES].taken:
                break
            await asyncio.sleep(0.05)
        assert app[EXPENSIVE_QUERIES].taken == 1
    finally:
        _, elapsed = await timed(runner.cleanup())
        stalled.close()
    assert elapsed < 10, elapsed  # not the 60 s aiohttp waits by default
    for _ in range(100):  # the cancelled download unwinds
        if not app[EXPENSIVE_QUERIES].taken:
            break
        await asyncio.sleep(0.05)
    assert app[EXPENSIVE_QUERIES].taken == 0


def test_an_error_in_one_line_whatever_it_says() -> None:
    assert first_line(TimeoutError()).startswith("no answer in time")
    assert first_line(ValueError("\n\n  second line is the first said\nthird")) == (
        "second line is the first said"
    )
    assert first_line(KeyError()) == "KeyError"
    wrapped = DBAPIError("SELECT 1", {}, OSError("connection refused\ndetail"))
    assert first_line(wrapped) == "connection refused"


async def test_a_download_gives_its_connection_back_with_the_statement_limit(
    app_client, engine: AsyncEngine, db_url: str, backend: str
) -> None:
    """MySQL lifts the session's statement limit for a download's stream (its bound is
    progress); the pooled connection gets the limit back afterwards."""
    if backend != "mysql":
        pytest.skip("only MySQL lifts the limit for a download")
    await make_table(engine)
    client = await app_client(create_app(bounded_settings(db_url)))
    response = await client.get("/t/t.csv")
    assert response.status == 200
    assert "one" in await response.text()
    read_engine = client.server.app[READ_ENGINE]
    assert read_engine.pool.checkedin() == 1  # the download's connection, back in the pool
    async with read_engine.connect() as conn:
        limit = await conn.scalar(text("SELECT @@SESSION.max_statement_time"))
    assert float(limit) == BOUNDS["statement_timeout"]
