"""`/healthz` and `/readyz` on each backend: public, cheap, and `/readyz` says 503 with the
reason when the database is silent or the app's tables are not at this version's migration."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fault_proxy import FaultProxy
from tests.helpers import FAST_HASHING
from webapp.accounts.models import MIGRATIONS, account_models
from webapp.app import create_app
from webapp.settings import settings_for_url
from webapp.views import health


async def test_both_answer_anonymously(make_client) -> None:
    client = await make_client(role=None)
    response = await client.get("/healthz", allow_redirects=False)
    assert response.status == 200 and await response.text() == "ok\n"
    assert response.headers["Cache-Control"] == "no-store"
    response = await client.get("/readyz", allow_redirects=False)
    assert response.status == 200 and await response.text() == "ready\n"


async def test_tables_behind_this_version_make_it_not_ready(
    engine: AsyncEngine, make_client
) -> None:
    client = await make_client(role=None)
    versions = account_models("webapp_").table(account_models("webapp_").schema_version)
    async with engine.begin() as conn:
        await conn.execute(delete(versions).where(versions.c.version == len(MIGRATIONS)))
    response = await client.get("/readyz")
    assert response.status == 503
    expected = len(MIGRATIONS)
    assert await response.text() == (
        f"not ready: the app's tables are at migration {expected - 1}, "
        f"this version expects {expected}\n"
    )
    assert (await client.get("/healthz")).status == 200  # alive all the same
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(versions)) == expected - 1


async def test_a_missing_table_is_a_reason_not_a_500(engine: AsyncEngine, make_client) -> None:
    client = await make_client(role=None)
    versions = account_models("webapp_").table(account_models("webapp_").schema_version)
    async with engine.begin() as conn:
        await conn.run_sync(versions.drop)
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.text()
    assert body.startswith("not ready: the database cannot be used: ")
    assert "Traceback" not in body and body.count("\n") == 1


async def test_a_silent_database_is_not_ready_within_the_bound(
    app_client, db_url: str, fault_proxy: FaultProxy, monkeypatch
) -> None:
    url = fault_proxy.url_for(make_url(db_url)).render_as_string(hide_password=False)
    client = await app_client(create_app(settings_for_url(url, auth=FAST_HASHING)), role=None)
    assert (await client.get("/readyz")).status == 200
    monkeypatch.setattr(health, "READY_TIMEOUT", 0.5)
    fault_proxy.mode = "blackhole"
    try:
        # A connection the pool keeps may still look alive: several checks at once need new ones.
        start = time.monotonic()
        responses = await asyncio.gather(*(client.get("/readyz") for _ in range(8)))
        elapsed = time.monotonic() - start
        bodies = [await response.text() for response in responses]
        assert all(response.status == 503 for response in responses), bodies
        assert set(bodies) == {"not ready: the database did not answer within 0.5 s\n"}
        assert elapsed < 3, elapsed
        assert (await client.get("/healthz")).status == 200
    finally:
        fault_proxy.mode = "pass"
    await asyncio.sleep(0.1)
    assert (await client.get("/readyz")).status == 200
