"""Values the driver cannot decode, cells of megabytes, types the app does not know, and a
database that goes away while the app serves."""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, Table, Text, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

MEGABYTES = 3 * 1024 * 1024


async def install_a_malformed_date(engine: AsyncEngine, backend: str) -> None:
    """`events`: row 1 good, row 2 with 'not a date' in its DATETIME (SQLite only)."""
    if backend != "sqlite":
        pytest.skip("only SQLite stores a malformed DATETIME")
    metadata = MetaData()
    events = Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("at", DateTime),
        Column("label", Text),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(events), [{"id": 1, "at": None, "label": "good row"}])
        await conn.execute(text("INSERT INTO events VALUES (2, 'not a date', 'bad row')"))


async def test_undecodable_value_marks_its_cell_and_the_rest_still_shows(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    await install_a_malformed_date(engine, backend)
    client = await make_client()
    listing = await client.get("/t/events")
    assert listing.status == 200
    body = await listing.text()
    assert "good row" in body and "bad row" in body
    assert 'class="decode-error">cannot read this value' in body
    record = await client.get("/t/events/r/2")
    assert record.status == 200
    assert "not a date" in await record.text()
    assert (await client.get("/t/events/r/1")).status == 200


async def test_megabyte_cells_are_cut_short_on_list_pages(engine: AsyncEngine, make_client) -> None:
    metadata = MetaData()
    blobs = Table(
        "blobs",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("body", Text().with_variant(Text(length=2**32 - 1), "mysql", "mariadb")),
        Column(
            "data",
            LargeBinary().with_variant(LargeBinary(length=2**32 - 1), "mysql", "mariadb"),
        ),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(blobs),
            [{"id": 1, "body": "é" * MEGABYTES, "data": b"\x00\x01" * (MEGABYTES // 2)}],
        )
    client = await make_client()
    response = await client.get("/t/blobs")
    body = await response.text()
    assert response.status == 200
    assert len(body) < 20_000
    assert re.search(r"3,145,728 bytes: 00 01 00 01", body)
    assert 'title="shortened; open the record for the whole value"' in body
    record = await (await client.get("/t/blobs/r/1")).text()
    assert record.count("é") >= MEGABYTES


async def test_types_the_app_does_not_know_are_shown_as_text(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    ddl = {
        "sqlite": "CREATE TABLE odd (id INTEGER PRIMARY KEY, shape WEIRDTYPE, spot POINTLIKE)",
        "mysql": "CREATE TABLE odd (id INT PRIMARY KEY, shape GEOMETRY, spot POINT)",
        "postgresql": "CREATE TABLE odd (id INT PRIMARY KEY, shape tsvector, spot point)",
    }[backend]
    insert_row = {
        "sqlite": "INSERT INTO odd VALUES (1, 'a shape', 'x')",
        "mysql": "INSERT INTO odd VALUES (1, ST_GeomFromText('POINT(1 2)'), POINT(3, 4))",
        "postgresql": "INSERT INTO odd VALUES (1, to_tsvector('simple', 'a shape'), point(3, 4))",
    }[backend]
    async with engine.begin() as conn:
        await conn.execute(text(ddl))
        await conn.execute(text(insert_row))
    client = await make_client()
    listing = await client.get("/t/odd")
    assert listing.status == 200
    record = await client.get("/t/odd/r/1")
    assert record.status == 200
    assert '<th scope="row">shape' in await record.text()


class Relay:
    """A TCP relay in front of the real database server, which the test can cut and mend:
    the database really goes away, as far as the app can tell."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers.difference_update({writer, up_writer})


async def test_database_going_away_gives_503_then_recovers(
    app_client, engine: AsyncEngine, db_url: str, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("an embedded database cannot go away")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INT PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
    url = make_url(db_url)
    relay = Relay(url.host or "127.0.0.1", url.port or 0)
    await relay.start()
    relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    from webapp.settings import DatabaseSettings, Settings

    database = DatabaseSettings(url=make_url(relayed), pool_timeout=2, connect_timeout=2)
    from webapp.app import create_app

    client = await app_client(create_app(Settings(database=database)))
    assert (await client.get("/t/t/r/1")).status == 200

    await relay.stop()
    response = await client.get("/t/t/r/1")
    assert response.status == 503
    assert "cannot be reached" in await response.text()
    assert response.headers["Retry-After"]

    await relay.start()
    response = await client.get("/t/t/r/1")
    assert response.status == 200
    await client.close()
    await relay.stop()


async def test_a_read_after_the_server_dropped_pooled_connections_still_answers(
    engine: AsyncEngine, backend: str, make_client
) -> None:
    """No ping before each checkout: a dead pooled connection is noticed when used, and the
    read is repeated once on a fresh one, so the user never sees the restart."""
    if backend == "sqlite":
        pytest.skip("an embedded database has no server connections to drop")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INT PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
    client = await make_client()
    assert (await client.get("/t/t/r/1")).status == 200
    await drop_server_connections(engine, backend)
    response = await client.get("/t/t/r/1")
    assert response.status == 200
    assert (await client.get("/t/t")).status == 200


async def test_an_idle_pooled_connection_is_pinged_and_replaced_before_use(
    engine: AsyncEngine, db_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write never starts on a connection the server dropped while it sat in the pool."""
    if backend == "sqlite":
        pytest.skip("an embedded database has no server connections to drop")
    from webapp.database import dialects
    from webapp.settings import DatabaseSettings

    monkeypatch.setattr(dialects, "IDLE_PING_SECONDS", 0.0)
    app_engine = dialects.create_engine(DatabaseSettings(url=make_url(db_url)))
    try:
        async with app_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        await drop_server_connections(engine, backend)
        async with app_engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await app_engine.dispose()


async def drop_server_connections(engine: AsyncEngine, backend: str) -> None:
    """End, from the server side, every connection to the test database but this one: what a
    database restart does to the app's pool."""
    async with engine.connect() as conn:
        if backend == "mysql":
            ids = await conn.scalars(
                text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            )
            for connection_id in list(ids):
                await conn.execute(text(f"KILL CONNECTION {int(connection_id)}"))
        else:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
