"""Expensive request kinds on every backend: searches, unindexed filters and sorts, facets
and counts take a bounded share of the pool under a time limit, identical ones in flight run
once, and however many there are, page 1, a record and sign-in keep answering."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import FAST_HASHING, add_test_user, sign_in_as
from webapp.app import create_app
from webapp.database.expensive import ExpensiveQueries
from webapp.settings import Settings, settings_for_url
from webapp.views import table as table_view
from webapp.web.appkeys import EXPENSIVE_QUERIES

BIG_ROWS = 300_000


async def make_big_table(engine: AsyncEngine, backend: str, rows: int = BIG_ROWS) -> None:
    """A table with a primary key and one text column no index serves, filled in the
    database itself."""
    label = "'row number ' || n || ' of the generated table, which nobody searches well'"
    fill = {
        "sqlite": "INSERT INTO big (id, label) WITH RECURSIVE seq(n) AS "
        "(SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows) "
        f"SELECT n, {label} FROM seq",
        "postgresql": f"INSERT INTO big (id, label) SELECT n, {label} "
        "FROM generate_series(1, :rows) AS n",
        "mysql": "INSERT INTO big (id, label) SELECT seq, CONCAT('row number ', seq, "
        "' of the generated table, which nobody searches well') FROM seq_1_to_{rows}",
    }[backend]
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE big (id INTEGER PRIMARY KEY, label VARCHAR(100) NOT NULL)")
        )
        if backend == "mysql":
            await conn.execute(text(fill.format(rows=int(rows))))
        else:
            await conn.execute(text(fill), {"rows": rows})


def settings_with(db_url: str, **database: object) -> Settings:
    settings = settings_for_url(db_url, auth=FAST_HASHING)
    return replace(settings, database=replace(settings.database, **database))


async def start(app_client, db_url: str, **database: object):
    return await app_client(create_app(settings_with(db_url, **database)))


async def test_a_search_past_the_time_limit_says_how_to_narrow_it(
    app_client, db_url: str, engine: AsyncEngine, backend: str
) -> None:
    await make_big_table(engine, backend)
    client = await start(app_client, db_url, expensive_time_limit=0.001)
    response = await client.get("/t/big?q=nothing+matches+this")
    assert response.status == 422
    body = await response.text()
    assert "took longer than 0.001 seconds" in body
    assert "Narrow it down" in body
    assert (await client.get("/t/big")).status == 200  # page 1 needs no time limit
    assert (await client.get("/t/big?id__exact=7")).status == 200  # nor an indexed filter
    assert client.server.app[EXPENSIVE_QUERIES].taken == 0


async def test_a_flood_of_slow_searches_leaves_page_one_and_sign_in_answering(
    app_client, db_url: str, engine: AsyncEngine, backend: str
) -> None:
    await make_big_table(engine, backend)
    client = await start(
        app_client, db_url, pool_size=2, pool_timeout=1.0, expensive_time_limit=0.002
    )
    app = client.server.app
    expensive = app[EXPENSIVE_QUERIES]
    assert expensive.limit == 1
    await add_test_user(app, "viewer", "vic")
    most_taken = 0
    flooding = True

    async def watch() -> None:
        nonlocal most_taken
        while flooding:
            most_taken = max(most_taken, expensive.taken)
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch())
    searches = [asyncio.create_task(client.get(f"/t/big?q=no+such+words+{n}")) for n in range(24)]
    await asyncio.sleep(0.05)  # the flood is under way
    page_one = [await client.get("/t/big") for _ in range(3)]
    record = await client.get("/t/big/r/150000")
    signed_in = await sign_in_as(client, "vic")
    statuses = [(await search).status for search in searches]
    flooding = False
    await watcher
    assert [response.status for response in page_one] == [200, 200, 200]
    assert record.status == 200
    assert signed_in.status == 303
    assert set(statuses) <= {200, 422, 503}, statuses
    assert 422 in statuses  # the searches were slow: the time limit stopped them
    assert most_taken <= 1
    assert expensive.taken == 0


async def test_page_views_and_sign_in_answer_while_every_slot_is_taken(
    make_client, app_client, db_url: str, engine: AsyncEngine, backend: str
) -> None:
    await make_big_table(engine, backend, rows=1000)
    client = await start(app_client, db_url, pool_size=2, pool_timeout=0.3)
    app = client.server.app
    expensive: ExpensiveQueries = app[EXPENSIVE_QUERIES]
    await add_test_user(app, "viewer", "vic")
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(expensive.limit):
            await stack.enter_async_context(expensive.slot())
        assert (await client.get("/t/big")).status == 200
        assert (await client.get("/t/big/r/5")).status == 200
        assert (await client.get("/t/big?id__lt=10")).status == 200
        busy = await client.get("/t/big?q=row")
        assert busy.status == 503
        assert busy.headers["Retry-After"] == "10"
        assert "running already" in await busy.text()
        assert (await client.get("/t/big.csv")).status == 503
        assert (await client.get("/t/big?sort=label")).status == 503
        assert (await client.get("/t/big/lookup?q=row")).status == 503
        assert (await sign_in_as(client, "vic")).status == 303
    assert (await client.get("/t/big?q=row")).status == 200
    assert (await client.get("/t/big?sort=label")).status == 200
    assert (await client.get("/t/big/lookup?q=row")).status == 200
    assert expensive.taken == 0


async def test_identical_searches_in_flight_run_once(
    app_client, db_url: str, engine: AsyncEngine, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_big_table(engine, backend, rows=1000)
    client = await start(app_client, db_url)
    expensive = client.server.app[EXPENSIVE_QUERIES]
    original_fetch = table_view.fetch_page
    original_run = ExpensiveQueries.run
    fetches = 0
    arrived = 0
    gate = asyncio.Event()
    all_arrived = asyncio.Event()

    async def gated_fetch(*args, **kwargs):
        nonlocal fetches
        fetches += 1
        await gate.wait()
        return await original_fetch(*args, **kwargs)

    async def counted_run(self, key, work, **kwargs):
        nonlocal arrived
        if key[0] == "page":
            arrived += 1
            if arrived == 8:
                all_arrived.set()
        return await original_run(self, key, work, **kwargs)

    monkeypatch.setattr(table_view, "fetch_page", gated_fetch)
    monkeypatch.setattr(ExpensiveQueries, "run", counted_run)
    requests = [asyncio.create_task(client.get("/t/big?q=number+77")) for _ in range(8)]
    await asyncio.wait_for(all_arrived.wait(), 30)
    gate.set()
    bodies = [await (await request).text() for request in requests]
    assert fetches == 1
    assert all('href="/t/big/r/77"' in body for body in bodies)
    assert expensive.taken == 0
