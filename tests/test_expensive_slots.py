"""The expensive share's slots on their own (no database): first come first served, a
bounded wait, and no slot lost to a request that leaves; plus their settings."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from webapp.database.expensive import ExpensiveQueries, expensive_slots_for
from webapp.settings import SettingsError, load_settings
from webapp.web.errors import TooBusy

REPO = Path(__file__).resolve().parent.parent


def slots(limit: int = 1, wait_seconds: float = 5.0) -> ExpensiveQueries:
    engine: Any = None  # slots alone never connect
    return ExpensiveQueries(engine, limit=limit, time_limit=1.0, wait_seconds=wait_seconds)


async def test_waiting_requests_get_slots_in_the_order_they_came() -> None:
    queries = slots(limit=1)
    order: list[int] = []
    release = asyncio.Event()

    async def use(number: int) -> None:
        async with queries.slot():
            order.append(number)
            await release.wait()

    first = asyncio.create_task(use(0))
    await asyncio.sleep(0)
    others = [asyncio.create_task(use(n)) for n in (1, 2, 3)]
    await asyncio.sleep(0.01)
    assert order == [0] and queries.taken == 1
    release.set()
    await asyncio.gather(first, *others)
    assert order == [0, 1, 2, 3]
    assert queries.taken == 0


async def test_a_wait_past_its_bound_is_too_busy_and_takes_nothing() -> None:
    queries = slots(limit=1, wait_seconds=0.05)
    async with queries.slot():
        with pytest.raises(TooBusy, match="1 search or download is running already"):
            async with queries.slot():
                pass
        with pytest.raises(TooBusy):
            async with queries.slot(wait=False):
                pass
        assert queries.taken == 1
    assert queries.taken == 0
    async with queries.slot(wait=False):
        assert queries.taken == 1


async def test_a_request_that_leaves_while_waiting_loses_no_slot() -> None:
    queries = slots(limit=1)
    async with queries.slot():
        leaving = asyncio.create_task(queries.slot().__aenter__())
        await asyncio.sleep(0.01)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
    assert queries.taken == 0
    async with queries.slot(wait=False):
        pass


async def test_identical_work_in_flight_runs_once_and_errors_reach_every_waiter() -> None:
    queries = slots(limit=2)
    runs = 0
    gate = asyncio.Event()

    class FakeEngine:
        def connect(self) -> Any:
            return FakeConnection()

    class FakeConnection:
        async def __aenter__(self) -> FakeConnection:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

    async def work(_conn: Any) -> int:
        nonlocal runs
        runs += 1
        await gate.wait()
        return 42

    # A stand-in that only counts connections, not an AsyncEngine.
    queries.engine = FakeEngine()  # type: ignore[assignment]
    waiting = [asyncio.create_task(queries.run("key", work, time_limited=False)) for _ in range(5)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*waiting) == [42] * 5
    assert runs == 1

    async def failing(_conn: Any) -> int:
        raise TooBusy("no")

    results = await asyncio.gather(
        *(queries.run("bad", failing, time_limited=False) for _ in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(result, TooBusy) for result in results)
    assert queries.taken == 0


def test_half_the_pool_by_default_and_settings_checked(tmp_path: Path) -> None:
    assert [expensive_slots_for(size) for size in (1, 2, 5, 10)] == [1, 1, 2, 5]
    database = load_settings(REPO / "config.yaml", environ={}).database
    assert database.expensive_connections is None
    assert database.expensive_time_limit == 5.0
    path = tmp_path / "config.yaml"
    path.write_text(
        "database:\n  url: sqlite+aiosqlite:///a.db\n  expensive_connections: 3\n"
        "  expensive_time_limit: 0.5\n",
        encoding="utf-8",
    )
    database = load_settings(path, environ={}).database
    assert (database.expensive_connections, database.expensive_time_limit) == (3, 0.5)
    path.write_text(
        "database:\n  url: sqlite+aiosqlite:///a.db\n  expensive_connections: 0\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError, match=r"database\.expensive_connections must be"):
        load_settings(path, environ={})


def test_auth_abuse_settings(tmp_path: Path) -> None:
    auth = load_settings(REPO / "config.yaml", environ={}).auth
    assert (auth.max_failures_per_user_total, auth.max_concurrent_hashes) == (100, 1)
    assert auth.max_session_age == 43200
    path = tmp_path / "config.yaml"
    path.write_text(
        "database:\n  url: sqlite+aiosqlite:///a.db\nauth:\n  max_session_age: 5\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError, match=r"auth\.max_session_age must be"):
        load_settings(path, environ={})
