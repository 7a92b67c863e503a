"""Two app processes behind haproxy, as deploy/ ships them: haproxy runs from
deploy/haproxy.cfg and each app process from deploy/webapp.service's command line (itself two
workers), with only the addresses changed to free loopback ports. A user signed in through
one process keeps working through the other; sign-in throttling counts across both; a lost
update made through the two is still a 409; and killing one process mid-load loses no change
that was acknowledged, while the balancer's health check routes around it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import create_async_engine

from tests.helpers import REPO, TEST_PASSWORD, parse_form
from tests.processes import (
    Running,
    add_user,
    children,
    free_port,
    service_config,
)

DEPLOY = REPO / "deploy"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

pytestmark = pytest.mark.skipif(
    not Path(HAPROXY).exists() and not os.environ.get("CI"),
    reason="haproxy is not installed (apt-get install haproxy)",
)

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", String(100), nullable=False),
)


@dataclass
class Service:
    balancer: str  # the address through haproxy
    apps: list[str]  # each app process's own address
    processes: list[Running]
    haproxy: Running
    db_url: str


def haproxy_config(balancer_port: int, app_ports: list[int]) -> str:
    """deploy/haproxy.cfg with its listening address and its servers on these ports."""
    text = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    text, bound = re.subn(
        r"^(\s*bind )127\.0\.0\.1:8080$", rf"\g<1>127.0.0.1:{balancer_port}", text, flags=re.M
    )
    assert bound == 1
    for number, port in enumerate(app_ports, start=1):
        text, replaced = re.subn(
            rf"^(\s*server app{number} )127\.0\.0\.1:808{number}( .*)$",
            rf"\g<1>127.0.0.1:{port}\g<2>",
            text,
            flags=re.M,
        )
        assert replaced == 1
    return text


def unit_command(config: Path, port: int) -> list[str]:
    """deploy/webapp.service's ExecStart, run from this checkout with this config and port."""
    unit = (DEPLOY / "webapp.service").read_text(encoding="utf-8")
    line = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart="))
    assert words[0].endswith("/webapp")
    command = [sys.executable, "-m", "webapp", *words[1:]]
    command[command.index("--config") + 1] = str(config)
    command[command.index("--port") + 1] = str(port)
    return command


@pytest.fixture
async def service(db_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
    ports = [free_port(), free_port()]
    config = service_config(
        tmp_path,
        db_url,
        ports[0],
        server="  trusted_proxies: [127.0.0.1]\n  access_log: plain\n",
        auth="  max_failures_per_user: 3\n",
    )
    add_user(config, "alice", "editor")
    processes: list[Running] = []
    with contextlib.ExitStack() as stack:
        for port in ports:
            running = Running(unit_command(config, port), cwd=tmp_path)
            stack.callback(stop_quietly, running)
            processes.append(running)
        for running in processes:
            running.wait_for(r"^webapp: serving .* with 2 workers")
        balancer_port = free_port()
        haproxy_file = tmp_path / "haproxy.cfg"
        haproxy_file.write_text(haproxy_config(balancer_port, ports), encoding="utf-8")
        haproxy = Running([HAPROXY, "-db", "-f", str(haproxy_file)], cwd=tmp_path)
        stack.callback(stop_quietly, haproxy)
        balancer = f"http://127.0.0.1:{balancer_port}"
        async with aiohttp.ClientSession() as probe:

            async def answers() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    async with probe.get(balancer + "/readyz") as response:
                        return response.status == 200
                return False

            for _ in range(100):
                if await answers():
                    break
                await asyncio.sleep(0.2)
        yield Service(
            balancer,
            [f"http://127.0.0.1:{port}" for port in ports],
            processes,
            haproxy,
            db_url,
        )


def stop_quietly(running: Running) -> None:
    with contextlib.suppress(AssertionError):
        running.stop()


def browser(jar: aiohttp.CookieJar | None = None) -> aiohttp.ClientSession:
    """A client that keeps cookies for an IP address, as a browser does."""
    return aiohttp.ClientSession(
        cookie_jar=jar if jar is not None else aiohttp.CookieJar(unsafe=True)
    )


async def sign_in(session: aiohttp.ClientSession, base: str, name: str, password: str) -> int:
    async with session.get(base + "/login") as response:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert token is not None
    async with session.post(
        base + "/login",
        data={"csrf_token": token.group(1), "username": name, "password": password},
        allow_redirects=False,
    ) as response:
        return response.status


async def submit(session: aiohttp.ClientSession, base: str, path: str, **values: str):
    """Open the form at `path` and submit it with `values`; (status, body, location)."""
    async with session.get(base + path) as response:
        assert response.status == 200, await response.text()
        form = parse_form(await response.text())
    for column, value in values.items():
        form.set(column, value)
    async with session.post(base + form.action, data=form.data(), allow_redirects=False) as r:
        return r.status, await r.text(), r.headers.get("Location", "")


async def test_one_session_throttle_and_conflict_across_two_processes(service: Service) -> None:

    first, second = service.apps
    jar = aiohttp.CookieJar(unsafe=True)
    async with browser(jar) as one, browser(jar) as other:
        assert await sign_in(one, first, "alice", TEST_PASSWORD) == 303
        # The cookie made by the first process is a session on the second.
        async with other.get(second + "/t/notes", allow_redirects=False) as response:
            assert response.status == 200 and "alice" in await response.text()
        status, _, location = await submit(other, second, "/t/notes/new", body="made on two")
        assert status == 303 and re.fullmatch(r"/t/notes/r/\d+", location)
        # A lost update across the processes: both forms read the same row, the second
        # save (on the other process) is refused.
        async with one.get(first + location + "/edit") as response:
            early = parse_form(await response.text())
        async with other.get(second + location + "/edit") as response:
            late = parse_form(await response.text())
        early.set("body", "first change")
        late.set("body", "second change")
        async with one.post(first + early.action, data=early.data(), allow_redirects=False) as r:
            assert r.status == 303
        async with other.post(second + late.action, data=late.data(), allow_redirects=False) as r:
            assert r.status == 409
            assert "first change" in await r.text()
    engine = create_async_engine(service.db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(select(notes.c.body)) == "first change"
    finally:
        await engine.dispose()

    # Throttling through the balancer, which sends the attempts to both processes in turn.
    statuses = []
    async with browser() as stranger:
        async with stranger.get(service.balancer + "/login") as response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
        assert token is not None
        for _ in range(5):
            async with stranger.post(
                service.balancer + "/login",
                data={"csrf_token": token.group(1), "username": "alice", "password": "wrong"},
                allow_redirects=False,
            ) as response:
                statuses.append(response.status)
    assert statuses == [401, 401, 401, 429, 429]
    for running in service.processes:  # each process answered some of them
        assert re.search(r'"POST /login" (401|429) ', running.output()), running.output()


async def test_killing_a_process_mid_load_loses_no_acknowledged_change(
    service: Service,
) -> None:

    acknowledged: list[str] = []
    failures: list[int] = []
    stop = asyncio.Event()

    # One sign-in for the four writers (four tabs of one browser): concurrent sign-ins of one
    # name from one address would meet the throttle, which counts attempts before checking.
    jar = aiohttp.CookieJar(unsafe=True)
    async with browser(jar) as session:
        assert await sign_in(session, service.balancer, "alice", TEST_PASSWORD) == 303

    async def writer(number: int) -> None:
        async with browser(jar) as session:
            count = 0
            while not stop.is_set():
                body = f"w{number}-{count}"
                count += 1
                try:
                    status, _, _ = await submit(
                        session, service.balancer, "/t/notes/new", body=body
                    )
                except (aiohttp.ClientError, AssertionError):
                    failures.append(0)
                    continue
                if status == 303:
                    acknowledged.append(body)
                else:
                    failures.append(status)

    async def acknowledged_reach(count: int) -> None:
        while len(acknowledged) < count:  # noqa: ASYNC110 (the writers count, not signal)
            await asyncio.sleep(0.05)

    writers = [asyncio.create_task(writer(number)) for number in range(4)]
    try:
        await asyncio.wait_for(acknowledged_reach(20), 120)
        victim = service.processes[1]
        for pid in children(victim.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        victim.kill()
        await asyncio.wait_for(acknowledged_reach(len(acknowledged) + 30), 120)
    finally:
        stop.set()
        await asyncio.gather(*writers)

    engine = create_async_engine(service.db_url)
    try:
        async with engine.connect() as conn:
            stored = list(await conn.scalars(select(notes.c.body)))
    finally:
        await engine.dispose()
    missing = set(acknowledged) - set(stored)
    assert not missing
    assert len(stored) == len(set(stored))  # nothing was saved twice
    # Once the health check marked it down (three failed checks a second apart), every
    # request goes to the live process.
    await asyncio.sleep(5)
    async with browser() as session:
        for _ in range(20):
            async with session.get(service.balancer + "/readyz") as response:
                assert response.status == 200


def test_the_shipped_and_generated_configs_are_valid(tmp_path: Path) -> None:
    """haproxy accepts deploy/haproxy.cfg, the test's version of it and the benchmark's."""
    from bench.balancer import haproxy_config as bench_config

    versions = {
        "shipped": (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8"),
        "test": haproxy_config(free_port(), [free_port(), free_port()]),
        "bench": bench_config(free_port(), [free_port()]),
    }
    for name, text in versions.items():
        path = tmp_path / f"{name}.cfg"
        path.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, (name, done.stdout, done.stderr)
    assert "server app2" not in versions["bench"] and "server app1" in versions["bench"]
