"""One app process against two behind haproxy (deploy/haproxy.cfg), on this machine: wrk on
the first page of `orders` and on one record page, through haproxy both times, so the only
difference is the number of app processes. Prints a Markdown table for docs/benchmark.md.

    .venv/bin/python bench/balancer.py [--database-url URL] [--duration 10] [--connections 32]

The database (MariaDB by default) gets the demo (100,000 orders) once and the benchmark's
viewer account; it is kept for the next run."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.scenarios import BENCH_PASSWORD, BENCH_USER, app_request_headers
from bench.servers import Server, free_port
from bench.wrk import WrkResult, run_wrk, wrk_command

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_URL = "mysql+aiomysql://root@127.0.0.1:3306/webapp_bench_balancer"
SECRET_KEY = "bench-balancer-secret-key-0123456789abcdef"
PATHS = {"page 1": "/t/orders", "record page": "/t/orders/r/50000"}
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    url = make_url(args.database_url)
    asyncio.run(prepare_database(url))
    make_bench_user(url)
    results: dict[tuple[int, str], WrkResult] = {}
    for processes in (1, 2):
        for name, result in measure_layout(url, processes, args).items():
            results[processes, name] = result
    print(report(results, args))
    return 0


async def prepare_database(url: URL) -> None:
    """The database with the demo in it (made and filled on the first run only)."""
    from webapp.demo import install_demo

    if url.get_backend_name() == "mysql":  # elsewhere the database must exist already
        server = create_async_engine(url.set(database="mysql"), isolation_level="AUTOCOMMIT")
        try:
            async with server.connect() as conn:
                await conn.execute(text(f"CREATE DATABASE IF NOT EXISTS {url.database}"))
        finally:
            await server.dispose()
    engine = create_async_engine(url)
    try:
        print("demo: ", "installed" if await install_demo(engine) else "already there")
    finally:
        await engine.dispose()


def app_env(url: URL) -> dict[str, str]:
    return {
        "WEBAPP_DATABASE_URL": url.render_as_string(hide_password=False),
        "WEBAPP_DATABASE_DEMO": "0",
        "WEBAPP_SECRET_KEY": SECRET_KEY,
        "PYTHONPATH": str(ROOT),
    }


def make_bench_user(url: URL) -> None:
    for action in ("add", "set-password"):
        words = ["user", action, BENCH_USER] + (["--role", "viewer"] if action == "add" else [])
        done = subprocess.run(
            [sys.executable, "-m", "webapp", *words],
            input=BENCH_PASSWORD + "\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, **app_env(url)},
            check=False,
        )
        if done.returncode == 0:
            return
        if not (action == "add" and "exists" in done.stderr):
            raise SystemExit(f"cannot make the benchmark user: {done.stderr.strip()}")


def measure_layout(url: URL, processes: int, args: argparse.Namespace) -> dict[str, WrkResult]:
    """haproxy in front of `processes` app processes (one worker each): wrk on each path."""
    logs = Path(tempfile.mkdtemp(prefix="webapp-bench-balancer-"))
    apps = [
        Server(
            f"app {number}",
            [sys.executable, "-m", "webapp", "--host", "127.0.0.1", "--port", "{port}"],
            app_env(url),
            logs / f"app{number}.log",
            cwd=ROOT,
        )
        for number in range(1, processes + 1)
    ]
    balancer_port = free_port()
    config = logs / "haproxy.cfg"
    config.write_text(haproxy_config(balancer_port, [app.port for app in apps]), "utf-8")
    haproxy = Server(
        "haproxy", [HAPROXY, "-db", "-f", str(config)], {}, logs / "haproxy.log", port=balancer_port
    )
    started: list[Server] = []
    try:
        for app in apps:
            app.start(ready_path="/readyz")
            started.append(app)
        haproxy.start(ready_path="/readyz")
        started.append(haproxy)
        time.sleep(2)  # the health checks mark every server up
        headers = app_request_headers(haproxy.base_url)
        results = {}
        for name, path in PATHS.items():
            options = {"connections": args.connections, "threads": args.threads}
            run_wrk(
                wrk_command(
                    haproxy.base_url + path, duration=args.warmup, **options, headers=headers
                )
            )
            result, _ = run_wrk(
                wrk_command(
                    haproxy.base_url + path, duration=args.duration, **options, headers=headers
                )
            )
            print(f"{processes} process(es), {name}: {result.requests_per_second:,.0f} req/s")
            results[name] = result
        return results
    finally:
        for server in reversed(started):
            server.stop()


def haproxy_config(port: int, app_ports: list[int]) -> str:
    """deploy/haproxy.cfg listening on `port`, with one server line per app port."""
    source = (ROOT / "deploy" / "haproxy.cfg").read_text(encoding="utf-8")
    source = re.sub(r"^(\s*bind )127\.0\.0\.1:8080$", rf"\g<1>127.0.0.1:{port}", source, flags=re.M)
    lines = [line for line in source.splitlines() if not re.match(r"\s*server app\d ", line)]
    lines += [f"    server app{n} 127.0.0.1:{p} check" for n, p in enumerate(app_ports, start=1)]
    # The balancer's own log would compete with the servers for the CPU.
    return "\n".join(line for line in lines if "log stdout" not in line) + "\n"


def report(results: dict[tuple[int, str], WrkResult], args: argparse.Namespace) -> str:
    rows = [
        "| page | 1 process req/s | 2 processes req/s | ratio | p99 1 / 2 (ms) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in PATHS:
        one, two = results[1, name], results[2, name]
        ratio = two.requests_per_second / one.requests_per_second
        rows.append(
            f"| {name} | {one.requests_per_second:,.0f} | {two.requests_per_second:,.0f} | "
            f"{ratio:.2f}x | {one.p99_ms:.0f} / {two.p99_ms:.0f} |"
        )
        if one.failures or two.failures:
            rows.append(f"| {name}: failures | {one.failures} | {two.failures} | | |")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    rows.append("")
    rows.append(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s through haproxy; "
        f"load average at the end: {load}; {os.cpu_count()} CPUs"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
