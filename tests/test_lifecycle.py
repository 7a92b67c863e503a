"""The engine lives exactly as long as the app; each request's session is closed, and
rolled back when the handler fails."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from webapp.app import create_app
from webapp.settings import settings_for_url
from webapp.web.appkeys import DB_SESSION, ENGINE, READ_ENGINE


async def make_notes_table(engine: AsyncEngine) -> Table:
    metadata = MetaData()
    notes = Table(
        "notes", metadata, Column("id", Integer, primary_key=True), Column("body", String(50))
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return notes


async def test_engine_created_at_startup_and_disposed_at_cleanup(
    engine: AsyncEngine, db_url: str, app_client
) -> None:
    await make_notes_table(engine)
    app = create_app(settings_for_url(db_url))
    client = await app_client(app)
    pool = app[READ_ENGINE].sync_engine.pool
    closed: list[object] = []
    event.listen(pool, "close", lambda dbapi_connection, record: closed.append(dbapi_connection))
    assert (await client.get("/t/notes")).status == 200
    assert pool.checkedout() == 0
    pooled = pool.checkedin()
    assert pooled >= 1
    await client.close()
    assert len(closed) == pooled


async def test_session_is_closed_after_each_request(
    engine: AsyncEngine, db_url: str, app_client
) -> None:
    await make_notes_table(engine)
    app = create_app(settings_for_url(db_url))
    seen: list[AsyncSession] = []

    async def peek(request: web.Request) -> web.Response:
        session = request[DB_SESSION]
        seen.append(session)
        await session.execute(select(1))
        assert session.in_transaction()
        return web.Response(text="ok")

    app.router.add_get("/peek", peek)
    client = await app_client(app)
    assert (await client.get("/peek")).status == 200
    assert not seen[0].in_transaction()
    assert app[READ_ENGINE].sync_engine.pool.checkedout() == 0


async def test_failing_handler_rolls_back_and_shows_a_500_page(
    engine: AsyncEngine, db_url: str, app_client
) -> None:
    notes = await make_notes_table(engine)
    app = create_app(settings_for_url(db_url))

    async def write_then_fail(request: web.Request) -> web.Response:
        session = request[DB_SESSION]
        await session.execute(notes.insert().values(id=1, body="half-done"))
        raise RuntimeError("boom: secret detail")

    app.router.add_get("/fail", write_then_fail)
    client = await app_client(app)
    response = await client.get("/fail")
    assert response.status == 500
    body = await response.text()
    assert "Something went wrong" in body
    assert "boom" not in body and "Traceback" not in body
    assert app[READ_ENGINE].sync_engine.pool.checkedout() == 0
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(notes)) == 0


async def test_database_errors_in_a_handler_are_500_pages_not_tracebacks(
    engine: AsyncEngine, db_url: str, app_client
) -> None:
    await make_notes_table(engine)
    app = create_app(settings_for_url(db_url))

    async def bad_sql(request: web.Request) -> web.Response:
        await request[DB_SESSION].execute(text("SELECT broken_marker FROM WHERE"))
        return web.Response(text="unreachable")

    app.router.add_get("/bad", bad_sql)
    client = await app_client(app)
    response = await client.get("/bad")
    assert response.status == 500
    assert "broken_marker" not in await response.text()


def count_rollbacks(engine: AsyncEngine) -> list[object]:
    """Every ROLLBACK the driver is asked to send on `engine`'s connections, from now on."""
    sent: list[object] = []

    def watch(dbapi_connection, record, proxy) -> None:
        driver = dbapi_connection.driver_connection
        if getattr(driver, "counted", False):
            return
        original = driver.rollback

        async def rollback() -> None:
            sent.append(driver)
            await original()

        driver.rollback, driver.counted = rollback, True

    event.listen(engine.sync_engine.pool, "checkout", watch)
    return sent


async def test_mysql_page_views_read_without_a_rollback_and_cannot_write(
    engine: AsyncEngine, db_url: str, backend: str, app_client
) -> None:
    """On MySQL, GET and HEAD read through connections of their own, in autocommit mode:
    no ROLLBACK round trip ends each page view; and read-only: a GET that tried to write
    fails whole. Writes keep their transactions on the other engine."""
    if backend != "mysql":
        return
    notes = await make_notes_table(engine)
    app = create_app(settings_for_url(db_url))

    async def write_on_get(request: web.Request) -> web.Response:
        await request[DB_SESSION].execute(notes.insert().values(id=2, body="from a GET"))
        return web.Response(text="wrote")

    app.router.add_get("/write", write_on_get)
    client = await app_client(app)
    assert app[READ_ENGINE] is not app[ENGINE]
    assert (await client.get("/t/notes")).status == 200  # connections made, caches filled
    rollbacks = count_rollbacks(app[READ_ENGINE])
    for _ in range(5):
        assert (await client.get("/t/notes")).status == 200
    assert rollbacks == []
    writes_rollbacks = count_rollbacks(app[ENGINE])  # the other engine still ends its reads
    async with app[ENGINE].connect() as conn:
        await conn.execute(select(1))
    assert len(writes_rollbacks) == 1
    assert (await client.get("/write")).status == 500
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(notes)) == 0
    async with app[ENGINE].connect() as conn:  # the other engine still has transactions
        async with conn.begin():
            await conn.execute(notes.insert().values(id=3, body="kept"))
        assert await conn.scalar(select(func.count()).select_from(notes)) == 1
