"""Several processes serve one service: `python -m webapp --workers N` (one port, a parent
that replaces a dead worker and ends them all on SIGTERM) and gunicorn with aiohttp's worker.
Each runs in real processes against the backend's database."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from tests.helpers import install_small_demo
from tests.processes import (
    Browser,
    Running,
    add_user,
    alive,
    children,
    free_port,
    service_config,
    start_webapp,
    wait_until,
)

TOKEN = "metrics-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


async def demo_database(db_url: str) -> None:
    engine = create_async_engine(db_url)
    try:
        await install_small_demo(engine)
    finally:
        await engine.dispose()


def metric_sample(body: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in body.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(match.group(4))
    return total


def workers_of(server: Running) -> list[int]:
    """The serving workers under the parent (its multiprocessing helper aside)."""
    pids = []
    for pid in children(server.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command and alive(pid):
            pids.append(pid)
    return pids


def signed_in_page_works(base: str) -> None:
    browser = Browser(base)
    assert browser.sign_in("alice") == 303
    status, body, _ = browser.request("/t/authors")
    assert status == 200 and "/t/authors/r/" in body


async def test_workers_share_a_port_are_replaced_and_end_on_sigterm(
    db_url: str, tmp_path: Path
) -> None:
    await demo_database(db_url)
    port = free_port()
    config = service_config(tmp_path, db_url, port, f"metrics:\n  token: {TOKEN}\n")
    add_user(config, "alice")
    server = start_webapp(config, "--workers", "2")
    try:
        assert "with 2 workers" in server.output()
        first = workers_of(server)
        assert len(first) == 2
        base = f"http://127.0.0.1:{port}"
        for _ in range(6):  # each on a new connection, spread over both workers
            signed_in_page_works(base)

        os.kill(first[0], signal.SIGKILL)
        server.wait_for(rf"worker \d \(pid {first[0]}\) ended with exit code -9")
        wait_until(
            lambda: len(workers_of(server)) == 2 and first[0] not in workers_of(server),
            what="a new worker",
        )
        replacement = next(pid for pid in workers_of(server) if pid not in first)
        wait_until(lambda: Path(f"/proc/{replacement}").exists())
        for _ in range(6):
            signed_in_page_works(base)
        workers = workers_of(server)
        # Any worker gives the sums over all of them, the dead one's counts included.
        for _ in range(3):
            status, body, _ = Browser(base).request("/metrics", headers=BEARER)
            assert status == 200
            assert metric_sample(body, "webapp_http_requests_total", route="/t/{table}") == 12
    finally:
        code = server.stop()
    assert code == 0, server.output()
    wait_until(lambda: not any(alive(pid) for pid in workers), what="the workers' end")
    assert "Traceback" not in server.output()


def test_workers_end_with_a_killed_parent(tmp_path: Path) -> None:
    port = free_port()
    config = service_config(tmp_path, "sqlite+aiosqlite:///app.db", port)
    server = start_webapp(config, "--workers", "2")
    workers = workers_of(server)
    assert len(workers) == 2
    server.kill()  # SIGKILL: the parent cannot tell them
    wait_until(lambda: not any(alive(pid) for pid in workers), what="the workers' end")


def test_a_worker_that_cannot_start_ends_the_service(tmp_path: Path) -> None:
    port = free_port()
    config = service_config(tmp_path, "sqlite+aiosqlite:///app.db", port)
    with socket_on(port):  # someone else listens there, without SO_REUSEPORT
        running = Running(
            [sys.executable, "-m", "webapp", "--config", str(config), "--workers", "2"],
            cwd=tmp_path,
        )
        code = running.process.wait(timeout=90)
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in running.output()


def socket_on(port: int):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


@pytest.mark.skipif(
    shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None
    and shutil.which("gunicorn") is None,
    reason="gunicorn is not installed",
)
async def test_gunicorn_with_aiohttp_worker_serves_the_app(db_url: str, tmp_path: Path) -> None:
    await demo_database(db_url)
    port = free_port()
    config = service_config(tmp_path, db_url, port)
    add_user(config, "alice")
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    server = Running(
        [
            gunicorn,
            "-c",
            "python:webapp.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--graceful-timeout",
            "10",
            "webapp.app:gunicorn_app",
        ],
        cwd=tmp_path,
        env={"WEBAPP_CONFIG": str(config)},
    )
    try:
        server.wait_for(r"Booting worker with pid")
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: Browser(base).request("/readyz")[0] == 200, 90, "gunicorn's readiness")
        for _ in range(4):
            signed_in_page_works(base)
    finally:
        code = server.stop()
    assert code == 0, server.output()
    assert "Traceback" not in server.output()
