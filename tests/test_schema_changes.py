"""A schema that changes while the app runs: tables and columns renamed, added or dropped
through another connection are picked up without a restart, the pages they touch say what
changed (never a 5xx), and every other table keeps working."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import FAST_HASHING, REPO, form_token
from webapp.app import create_app
from webapp.database.dialects import is_schema_mismatch, schema_fingerprint
from webapp.schema.watch import CHANGED_NOTICE, NOT_SAVED_NOTICE
from webapp.settings import (
    RoleRules,
    Settings,
    SettingsError,
    TableOptions,
    load_settings,
    settings_for_url,
)
from webapp.web.appkeys import (
    CATALOG,
    DB_SESSION,
    INDEX_COUNTS,
    ROLE_CATALOGS,
    SCHEMA_WATCH,
    TABLE_COUNTS,
)

GONE = "The table &#39;items&#39; no longer exists (the database changed)."


async def make_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE owners (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)")
        )
        await conn.execute(
            text(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, title VARCHAR(50), "
                "secret VARCHAR(50), owner_id INTEGER REFERENCES owners (id))"
            )
        )
        await conn.execute(text("INSERT INTO owners (id, name) VALUES (1, 'Ada'), (2, 'Bo')"))
        await conn.execute(
            text(
                "INSERT INTO items (id, title, secret, owner_id) "
                "VALUES (1, 'lamp', 'hush-one', 1), (2, 'desk', 'hush-two', 2)"
            )
        )


async def alter(engine: AsyncEngine, statement: str) -> None:
    """A schema change made by somebody else, on a connection of their own."""
    async with engine.begin() as conn:
        await conn.execute(text(statement))


def settings(db_url: str, **database: object) -> Settings:
    base = settings_for_url(db_url, auth=FAST_HASHING)
    return replace(base, database=replace(base.database, **database))


async def test_a_renamed_table_is_a_404_saying_so_and_shows_under_its_new_name(
    engine: AsyncEngine, make_client
) -> None:
    await make_tables(engine)
    client = await make_client()
    assert (await client.get("/t/items")).status == 200
    await alter(engine, "ALTER TABLE items RENAME TO goods")

    for path in ("/t/items", "/t/items/r/1", "/t/items/r/1/edit", "/t/items.csv", "/t/items"):
        response = await client.get(path)
        assert response.status == 404, (path, response.status)
        assert GONE in await response.text(), path

    index = await client.get("/")
    assert index.status == 200
    body = await index.text()
    assert 'href="/t/goods"' in body and 'href="/t/items"' not in body
    page = await client.get("/t/goods")
    assert page.status == 200
    assert "lamp" in await page.text()
    assert (await client.get("/t/goods/r/2")).status == 200
    assert (await client.get("/t/owners")).status == 200


async def test_the_index_never_fails_on_a_table_renamed_after_its_counts_expired(
    engine: AsyncEngine, make_client
) -> None:
    await make_tables(engine)
    client = await make_client()
    app = client.server.app
    assert (await client.get("/")).status == 200
    await alter(engine, "ALTER TABLE items RENAME TO goods")
    app[INDEX_COUNTS].clear()  # the count cache expired
    response = await client.get("/")
    body = await response.text()
    assert response.status == 200
    assert 'href="/t/owners"' in body
    if 'href="/t/items"' in body:  # listed until the change is noticed: count unknown
        assert "unknown" in body[body.index('href="/t/items"') :].split("</tr>")[0]


async def test_a_renamed_column_is_picked_up_by_every_page_kind_with_a_notice(
    engine: AsyncEngine, make_client
) -> None:
    await make_tables(engine)
    client = await make_client()
    old = "title"
    for number, path in enumerate(
        ("/t/items", "/t/items/r/1", "/t/items/r/1/edit", "/t/items.csv", "/t/items/r/2")
    ):
        assert (await client.get(path)).status == 200, path
        new = f"heading{number}"
        await alter(engine, f"ALTER TABLE items RENAME COLUMN {old} TO {new}")
        response = await client.get(path)
        body = await response.text()
        assert response.status == 200, (path, response.status, body)
        assert new in body, path
        if not path.endswith(".csv"):
            assert CHANGED_NOTICE in body, path
        old = new
    columns = client.server.app[CATALOG].tables["items"].table.columns.keys()
    assert old in columns and "title" not in columns


async def test_a_save_after_a_column_was_renamed_saves_nothing_and_shows_the_new_form(
    engine: AsyncEngine, make_client, open_form
) -> None:
    await make_tables(engine)
    client = await make_client()
    form = await open_form(client, "/t/items/r/1/edit")
    form.set("title", "lantern")
    await alter(engine, "ALTER TABLE items RENAME COLUMN title TO heading")
    response = await client.post(form.action, data=form.data(), allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/t/items/r/1/edit"
    page = await client.get("/t/items/r/1/edit")
    body = await page.text()
    assert page.status == 200
    assert NOT_SAVED_NOTICE in body and "heading" in body
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT heading FROM items WHERE id = 1")) == "lamp"


async def test_an_api_change_after_a_column_was_renamed_is_a_503_problem(
    engine: AsyncEngine, make_client
) -> None:
    await make_tables(engine)
    client = await make_client()
    read = await client.get("/api/t/items/r/1")
    token = await form_token(client, "/account/password")
    await alter(engine, "ALTER TABLE items RENAME COLUMN title TO heading")
    response = await client.patch(
        "/api/t/items/r/1",
        json={"title": "lantern"},
        headers={"If-Match": read.headers["ETag"], "X-CSRF-Token": token},
        allow_redirects=False,
    )
    assert response.status == 503
    assert response.content_type == "application/problem+json"
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT heading FROM items WHERE id = 1")) == "lamp"
    # The next read sees the new catalog.
    assert "heading" in (await (await client.get("/api/t/items/r/1")).json())["values"]


async def test_a_dropped_table_under_an_open_form_is_a_404_and_nothing_is_written(
    engine: AsyncEngine, make_client, open_form
) -> None:
    await make_tables(engine)
    client = await make_client()
    form = await open_form(client, "/t/items/r/1/edit")
    form.set("title", "lantern")
    await alter(engine, "ALTER TABLE items RENAME TO goods")
    response = await client.post(form.action, data=form.data())
    assert response.status == 404
    assert GONE in await response.text()
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT title FROM goods WHERE id = 1")) == "lamp"


async def test_a_new_table_appears_after_the_check_interval(
    engine: AsyncEngine, db_url: str, app_client
) -> None:
    await make_tables(engine)
    client = await app_client(create_app(settings(db_url, schema_check_interval=0.05)))
    assert 'href="/t/extras"' not in await (await client.get("/")).text()
    await alter(engine, "CREATE TABLE extras (id INTEGER PRIMARY KEY, label VARCHAR(20))")
    for _ in range(200):
        if "extras" in client.server.app[CATALOG].tables:
            break
        await asyncio.sleep(0.05)
    body = await (await client.get("/")).text()
    assert 'href="/t/extras"' in body
    assert (await client.get("/t/extras")).status == 200


async def test_an_unchanged_schema_is_not_reflected_again(
    engine: AsyncEngine, db_url: str, app_client
) -> None:
    await make_tables(engine)
    client = await app_client(create_app(settings(db_url, schema_check_interval=0.02)))
    app = client.server.app
    await asyncio.sleep(0.3)
    assert app[SCHEMA_WATCH].generation == 0
    assert (await client.get("/t/items")).status == 200


async def test_sighup_reloads_the_schema(engine: AsyncEngine, make_client, caplog) -> None:
    await make_tables(engine)
    client = await make_client()
    app = client.server.app
    app[TABLE_COUNTS].put(("items", (), ""), object())
    await alter(engine, "CREATE TABLE extras (id INTEGER PRIMARY KEY)")
    assert "extras" not in app[CATALOG].tables
    caplog.set_level("INFO", logger="webapp.schema.watch")
    app[SCHEMA_WATCH].reload_on_signal()
    for _ in range(200):
        if "extras" in app[CATALOG].tables:
            break
        await asyncio.sleep(0.05)
    assert "extras" in app[CATALOG].tables
    assert all("extras" in catalog.tables for catalog in app[ROLE_CATALOGS].values())
    assert app[TABLE_COUNTS].get(("items", (), "")) is None
    assert "SIGHUP: reloading the database schema" in caplog.text
    assert "added extras" in caplog.text
    assert (await client.get("/t/extras")).status == 200


async def test_concurrent_schema_errors_share_one_reflection(
    engine: AsyncEngine, make_client, monkeypatch
) -> None:
    await make_tables(engine)
    client = await make_client()
    import webapp.schema.watch as schema_watch

    calls = []
    reflect = schema_watch.reflect_catalog

    async def counted(*args, **kwargs):
        calls.append(1)
        return await reflect(*args, **kwargs)

    monkeypatch.setattr(schema_watch, "reflect_catalog", counted)
    await alter(engine, "ALTER TABLE items RENAME COLUMN title TO heading")
    responses = await asyncio.gather(*(client.get(f"/t/items/r/{n % 2 + 1}") for n in range(8)))
    assert [response.status for response in responses] == [200] * 8
    assert len(calls) == 1


async def test_config_naming_a_vanished_column_is_skipped_and_hides_its_successor(
    engine: AsyncEngine, make_client
) -> None:
    await make_tables(engine)
    options = {
        "items": TableOptions(
            columns=("title", "owner_id"),
            hidden_columns=frozenset({"secret"}),
            label_column="title",
            sort="-title",
            roles={"viewer": RoleRules(read_only_columns=frozenset({"title"}))},
        )
    }
    client = await make_client(tables=options)
    assert "hush-one" not in await (await client.get("/t/items/r/1")).text()
    await alter(engine, "ALTER TABLE items RENAME COLUMN secret TO secret_renamed")
    # Pages never select a hidden column, so only the fingerprint notices this change.
    assert await client.server.app[SCHEMA_WATCH].refresh("the fingerprint changed")
    page = await client.get("/t/items/r/1")
    body = await page.text()
    assert page.status == 200
    assert "lamp" in body and "secret_renamed" not in body and "hush-one" not in body
    await alter(engine, "ALTER TABLE items RENAME COLUMN title TO heading")
    record = await client.get("/t/items/r/1")
    body = await record.text()
    assert record.status == 200
    assert "heading" in body and "lamp" in body
    assert "secret_renamed" not in body and "hush-one" not in body
    assert (await client.get("/t/items?sort=heading")).status == 200
    assert (await client.get("/t/owners")).status == 200


async def test_a_table_the_config_names_can_vanish_without_breaking_the_app(
    engine: AsyncEngine, make_client
) -> None:
    await make_tables(engine)
    client = await make_client(tables={"items": TableOptions(read_only=True)})
    await alter(engine, "DROP TABLE items")
    response = await client.get("/t/items")
    assert response.status == 404
    assert GONE in await response.text()
    assert (await client.get("/")).status == 200


async def test_an_unknown_table_the_schema_does_not_explain_is_a_503_not_a_500(
    engine: AsyncEngine, db_url: str, app_client
) -> None:
    await make_tables(engine)
    app = create_app(settings(db_url))

    async def stale(request: web.Request) -> web.Response:
        await request[DB_SESSION].execute(text("SELECT * FROM no_such_table"))
        return web.Response(text="unreachable")

    app.router.add_get("/stale", stale)
    client = await app_client(app)
    response = await client.get("/stale")
    body = await response.text()
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert "does not match what the database holds" in body and "no_such_table" not in body
    assert app[SCHEMA_WATCH].generation == 0


async def test_unknown_names_are_recognised_on_every_backend(engine: AsyncEngine) -> None:
    await make_tables(engine)
    for statement in ("SELECT * FROM no_such_table", "SELECT no_such_column FROM items"):
        with pytest.raises(DBAPIError) as caught:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        assert is_schema_mismatch(caught.value), statement
    with pytest.raises(DBAPIError) as caught:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT FROM WHERE"))
    assert not is_schema_mismatch(caught.value)


async def test_the_fingerprint_changes_with_tables_and_columns_only(engine: AsyncEngine) -> None:
    await make_tables(engine)

    async def fingerprint() -> str:
        async with engine.connect() as conn:
            return await schema_fingerprint(conn, "webapp_")

    first = await fingerprint()
    assert await fingerprint() == first
    await alter(engine, "INSERT INTO owners (id, name) VALUES (3, 'Cy')")
    await alter(engine, "CREATE TABLE webapp_own (id INTEGER PRIMARY KEY)")
    assert await fingerprint() == first
    await alter(engine, "ALTER TABLE owners ADD COLUMN nick VARCHAR(10)")
    second = await fingerprint()
    assert second != first
    await alter(engine, "ALTER TABLE owners RENAME COLUMN nick TO alias")
    assert await fingerprint() not in (first, second)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sighup_to_a_running_server_reloads_its_schema(tmp_path: Path) -> None:
    database = tmp_path / "served.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT)")
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: sqlite+aiosqlite:///{database}\n")
    log_path = tmp_path / "server.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
    environment["WEBAPP_SECRET_KEY"] = "k" * 40
    with log_path.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "webapp", "--config", str(config), "--port", str(free_port())],
            cwd=REPO,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_for_text(log_path, "webapp: serving"), log_path.read_text()
        with sqlite3.connect(database) as conn:
            conn.execute("CREATE TABLE extras (id INTEGER PRIMARY KEY)")
        server.send_signal(signal.SIGHUP)
        assert wait_for_text(log_path, "added extras"), log_path.read_text()
        assert "SIGHUP: reloading the database schema" in log_path.read_text()
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_text(path: Path, needle: str, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if needle in path.read_text():
            return True
        time.sleep(0.1)
    return False


def test_the_schema_settings_are_read_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    base = "database:\n  url: sqlite+aiosqlite:///a.db\n"
    config.write_text(base + "  schema_check_interval: 0\n  schema_reload_timeout: 2.5\n")
    database = load_settings(config, environ={}).database
    assert (database.schema_check_interval, database.schema_reload_timeout) == (0.0, 2.5)
    defaults = load_settings(None, environ={"WEBAPP_DATABASE_URL": "sqlite+aiosqlite:///b.db"})
    assert defaults.database.schema_check_interval == 30.0
    for line, message in (
        (
            "schema_check_interval: -1",
            "database.schema_check_interval must be a number of seconds 0 or more",
        ),
        (
            "schema_reload_timeout: 0",
            "database.schema_reload_timeout must be a number of seconds above 0",
        ),
    ):
        config.write_text(f"{base}  {line}\n")
        with pytest.raises(SettingsError) as caught:
            load_settings(config, environ={})
        assert message in str(caught.value)


async def test_a_reflection_past_its_timeout_keeps_the_old_catalog(
    engine: AsyncEngine, db_url: str, app_client, monkeypatch, caplog
) -> None:
    await make_tables(engine)
    import webapp.schema.watch as schema_watch

    async def stuck(*args, **kwargs):
        await asyncio.sleep(60)

    monkeypatch.setattr(schema_watch, "reflect_catalog", stuck)
    app = create_app(settings(db_url, schema_reload_timeout=0.2))
    client = await app_client(app)
    await alter(engine, "ALTER TABLE items RENAME COLUMN title TO heading")
    response = await client.get("/t/items/r/1")
    assert response.status == 503
    assert "Try again in a moment" in await response.text()
    assert "cannot reload the database schema" in caplog.text
    assert "title" in app[CATALOG].tables["items"].table.columns
    assert (await client.get("/t/owners")).status == 200


async def test_a_table_the_database_refuses_to_count_is_unknown_on_the_index(
    engine: AsyncEngine, make_client, monkeypatch
) -> None:
    await make_tables(engine)
    import webapp.listing.counts as counts

    count = counts.bounded_count

    async def refused(conn, info, **kwargs):
        if info.name == "items":
            raise ProgrammingError("SELECT", {}, Exception("permission denied for table items"))
        return await count(conn, info, **kwargs)

    monkeypatch.setattr(counts, "bounded_count", refused)
    client = await make_client()
    response = await client.get("/")
    body = await response.text()
    assert response.status == 200
    items_row = body[body.index('href="/t/items"') :].split("</tr>")[0]
    owners_row = body[body.index('href="/t/owners"') :].split("</tr>")[0]
    assert "unknown" in items_row and ">2<" in owners_row


RETYPE = {
    "mysql": "ALTER TABLE items MODIFY title TEXT",
    "postgresql": "ALTER TABLE items ALTER COLUMN title TYPE TEXT",
}


async def test_a_retyped_column_is_served_without_a_restart(
    backend: str, engine: AsyncEngine, make_client
) -> None:
    if backend not in RETYPE:
        pytest.skip("SQLite cannot change a column's type")
    await make_tables(engine)
    client = await make_client()
    for _ in range(3):  # PostgreSQL: the statement is prepared and cached by now
        assert (await client.get("/t/items")).status == 200
    await alter(engine, RETYPE[backend])
    for path in ("/t/items", "/t/items/r/1", "/t/items.csv"):
        response = await client.get(path)
        assert response.status == 200, (path, response.status)
        assert "lamp" in await response.text(), path
    app = client.server.app
    # Where no statement failed on it (MySQL), the periodic check notices the change.
    await app[SCHEMA_WATCH].refresh("the periodic check")
    assert "TEXT" in str(app[CATALOG].tables["items"].table.columns["title"].type).upper()


async def test_a_column_hidden_from_a_role_stays_hidden_from_it_when_renamed(
    engine: AsyncEngine, make_client
) -> None:
    await make_tables(engine)
    options = {"items": TableOptions(roles={"viewer": RoleRules(hidden_columns={"secret"})})}
    viewer = await make_client(role="viewer", tables=options)
    assert "hush-one" not in await (await viewer.get("/t/items/r/1")).text()
    await alter(engine, "ALTER TABLE items RENAME COLUMN secret TO secret_renamed")
    assert await viewer.server.app[SCHEMA_WATCH].refresh("the fingerprint changed")
    response = await viewer.get("/t/items/r/1")
    body = await response.text()
    assert response.status == 200
    assert "lamp" in body and "hush-one" not in body and "secret_renamed" not in body
    admin_catalog = viewer.server.app[ROLE_CATALOGS]["admin"]
    assert admin_catalog.tables["items"].column("secret_renamed") is not None
