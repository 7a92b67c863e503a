"""A soak under faults: concurrent editors and readers work the app for a bounded time
while the connection to the database is cut, blackholed, refused and slowed in turn (through
tests/fault_proxy.py), then every row is checked against its audit trail. It prints what the
clients got (no 500 may appear), whether memory, file handles and database connections stayed
flat, and whether an update was lost (a row whose value is not its last audit entry's, or
whose increments were not all recorded).

    python bench/faults.py --url mysql+aiomysql://root@127.0.0.1:3306 --seconds 60

The app runs in this process on a database of its own (created and dropped; SQLite: a
temporary file, without faults), behind the proxy."""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import TypedDict

import aiohttp
from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fault_proxy import FaultProxy
from tests.helpers import FAST_HASHING, parse_form
from webapp.accounts.store import Accounts
from webapp.app import create_app
from webapp.changes.audit import COMMITTED
from webapp.changes.audit_values import dump_key, load_row
from webapp.settings import settings_for_url
from webapp.web.appkeys import ACCOUNTS

ROWS = 20
PASSWORD = "soak password 1"
FAULTS = ("cut", "blackhole", "refuse", "latency")


class Bounds(TypedDict):
    """The database settings the soak tightens, so that a fault shows within seconds."""

    connect_timeout: float
    statement_timeout: float
    pool_timeout: float
    lock_timeout: float


BOUNDS: Bounds = {
    "connect_timeout": 1.0,
    "statement_timeout": 1.0,
    "pool_timeout": 2.0,
    "lock_timeout": 2.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="sqlite", help="server URL without a database, or sqlite")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the soak runs")
    parser.add_argument("--editors", type=int, default=8)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--fault-seconds", type=float, default=2.0, help="each fault lasts")
    parser.add_argument("--calm-seconds", type=float, default=3.0, help="time between faults")
    args = parser.parse_args()
    asyncio.run(asyncio.wait_for(soak(args), args.seconds + 120))


async def soak(args: argparse.Namespace) -> None:
    async with test_database(args.url) as url:
        proxy = None
        app_url = url
        if url.get_backend_name() != "sqlite":
            proxy = FaultProxy(url.host or "127.0.0.1", url.port or default_port(url))
            await proxy.start()
            app_url = proxy.url_for(url)
        direct = create_async_engine(url)
        try:
            await make_table(direct)
            await run_app(args, app_url, direct, proxy)
        finally:
            await direct.dispose()
            if proxy is not None:
                await proxy.stop()


async def run_app(
    args: argparse.Namespace, app_url: URL, direct: AsyncEngine, proxy: FaultProxy | None
) -> None:
    settings = settings_for_url(app_url.render_as_string(hide_password=False), auth=FAST_HASHING)
    settings = settings.with_overrides(database=replace(settings.database, **BOUNDS))
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        accounts: Accounts = app[ACCOUNTS]
        await accounts.add_user("soak", "editor", PASSWORD)
        statuses: collections.Counter[str] = collections.Counter()
        samples: list[tuple[float, int, int, int]] = []
        deadline = time.monotonic() + args.seconds
        sessions = [await signed_in(base) for _ in range(args.editors + args.readers)]
        try:
            workers = [edit_loop(s, deadline, statuses) for s in sessions[: args.editors]]
            workers += [read_loop(s, deadline, statuses) for s in sessions[args.editors :]]
            workers.append(sample_loop(direct, deadline, samples))
            if proxy is not None:
                workers.append(fault_loop(proxy, deadline, args, statuses))
            await asyncio.gather(*workers)
        finally:
            for session in sessions:
                await session.close()
        await report(args, direct, accounts, statuses, samples)
    finally:
        await runner.cleanup()


async def signed_in(base: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(
        base_url=base,
        timeout=aiohttp.ClientTimeout(total=30),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # the server is an IP address
    )
    page = await (await session.get("/login")).text()
    form = parse_form(page)
    token = form.field("csrf_token")
    response = await session.post(
        "/login",
        data={"csrf_token": token, "username": "soak", "password": PASSWORD, "next": "/"},
        allow_redirects=False,
    )
    assert response.status == 303, response.status
    return session


async def edit_loop(
    session: aiohttp.ClientSession, deadline: float, statuses: collections.Counter[str]
) -> None:
    """Add one to a random row's counter, as a user would: open the form, submit it."""
    while time.monotonic() < deadline:
        row = random.randint(1, ROWS)
        try:
            response = await session.get(f"/t/counters/r/{row}/edit")
            if response.status != 200:
                statuses[f"edit form {response.status}"] += 1
                await asyncio.sleep(0.2)
                continue
            form = parse_form(await response.text())
            form.set("n", str(int(form.value("n")) + 1))
            response = await form.submit(session)
            statuses[f"save {response.status}"] += 1
            if response.status not in (303, 409, 503):
                print(f"save {response.status}: {page_message(await response.text())}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            statuses[f"client error {type(exc).__name__}"] += 1
            await asyncio.sleep(0.2)
            continue
        if response.status == 503:
            await asyncio.sleep(0.2)


async def read_loop(
    session: aiohttp.ClientSession, deadline: float, statuses: collections.Counter[str]
) -> None:
    while time.monotonic() < deadline:
        try:
            response = await session.get("/t/counters")
            await response.read()
            statuses[f"page {response.status}"] += 1
        except (TimeoutError, aiohttp.ClientError) as exc:
            statuses[f"client error {type(exc).__name__}"] += 1
        await asyncio.sleep(0.01)


async def fault_loop(
    proxy: FaultProxy,
    deadline: float,
    args: argparse.Namespace,
    statuses: collections.Counter[str],
) -> None:
    faults = 0
    while time.monotonic() + args.calm_seconds < deadline:
        await asyncio.sleep(args.calm_seconds)
        fault = FAULTS[faults % len(FAULTS)]
        proxy.latency = 0.05
        proxy.mode = fault
        statuses[f"fault {fault}"] += 1
        faults += 1
        await asyncio.sleep(args.fault_seconds)
        proxy.mode = "pass"
    await asyncio.sleep(0)


async def sample_loop(
    direct: AsyncEngine, deadline: float, samples: list[tuple[float, int, int, int]]
) -> None:
    """Resident memory, open file handles and database connections, every second."""
    start = time.monotonic()
    while time.monotonic() < deadline:
        samples.append((time.monotonic() - start, rss_kib(), len(os.listdir("/proc/self/fd")), -1))
        with contextlib.suppress(Exception):
            connections = await server_connections(direct)
            samples[-1] = (*samples[-1][:3], connections)
        await asyncio.sleep(1.0)


async def report(
    args: argparse.Namespace,
    direct: AsyncEngine,
    accounts: Accounts,
    statuses: collections.Counter[str],
    samples: list[tuple[float, int, int, int]],
) -> None:
    Entry = accounts.models.audit_entry
    async with direct.connect() as conn:
        values: dict[int, int] = dict(
            (await conn.execute(text("SELECT id, n FROM counters"))).all()
        )
        entries = (
            await conn.execute(
                select(Entry.row_key, Entry.new_values, Entry.state)
                .where(Entry.table_name == "counters", Entry.action == "update")
                .order_by(Entry.id)
            )
        ).all()
    last: dict[str, int] = {}
    recorded: collections.Counter[str] = collections.Counter()
    for row_key, new_values, state in entries:
        if state == COMMITTED:
            last[row_key] = int((load_row(new_values) or {})["n"])
            recorded[row_key] += 1
    mismatched = lost = 0
    for row_id, n in values.items():
        key = dump_key((row_id,))
        mismatched += last.get(key, 0) != n
        lost += recorded[key] != n
    print(f"{args.url}: {args.seconds:g} s, {args.editors} editors, {args.readers} readers")
    for name, count in sorted(statuses.items()):
        print(f"  {name}: {count}")
    print(f"  audit entries: {len(entries)}; rows unlike their last entry: {mismatched}")
    print(f"  rows whose value is not their number of recorded increments: {lost}")
    if samples:
        first, final = samples[min(2, len(samples) - 1)], samples[-1]
        peak = max(sample[1] for sample in samples)
        print(
            f"  memory {first[1] // 1024} -> {final[1] // 1024} MB (peak {peak // 1024}), "
            f"file handles {first[2]} -> {final[2]}, "
            f"database connections {first[3]} -> {final[3]}"
        )
    if any(name.endswith(" 500") for name in statuses) or mismatched or lost:
        raise SystemExit(1)


@contextlib.asynccontextmanager
async def test_database(url_text: str) -> AsyncIterator[URL]:
    if url_text == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield make_url(f"sqlite+aiosqlite:///{directory}/soak.db")
        return
    server = make_url(url_text)
    name = f"webapp_soak_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE DATABASE {name}"))
        yield server.set(database=name)
    finally:
        async with admin.connect() as conn:
            force = "" if server.get_backend_name() == "mysql" else " WITH (FORCE)"
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        await admin.dispose()


async def make_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)"))
        await conn.execute(
            text("INSERT INTO counters VALUES (:id, 0)"), [{"id": i} for i in range(1, ROWS + 1)]
        )


async def server_connections(engine: AsyncEngine) -> int:
    """Connections to the soak's database, this check's own left out."""
    async with engine.connect() as conn:
        if engine.dialect.name in ("mysql", "mariadb"):
            query = "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE()"
        elif engine.dialect.name == "postgresql":
            query = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
        else:
            return 0
        return int(await conn.scalar(text(query)) or 0) - 1


def page_message(html: str) -> str:
    """What an error page or a form says went wrong, in one line."""
    found = re.findall(r'<p class="form-error">(.*?)</p>|<p>(.*?)</p>|class="error">(.*?)<', html)
    return " / ".join("".join(parts) for parts in found)[:300]


def default_port(url: URL) -> int:
    return 3306 if url.get_backend_name() == "mysql" else 5432


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()
