"""The benchmark in one command: load the data (once), start `python -m webapp`
and the bare reference server on free loopback ports, drive each URL with wrk, print and
save a markdown report with its targets, and stop both servers whatever happens.

    .venv/bin/python bench/run.py                                  # the full run
    .venv/bin/python bench/run.py --smoke                          # ~30 s, 20,000 rows
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import pymysql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bench.dataset import DatabaseServer, ensure_buffer_pool, ensure_dataset
from bench.export import EXPORT_NAME, ExportResult, measure_exports
from bench.report import evaluate_targets, render_report
from bench.scenarios import (
    BENCH_PASSWORD,
    BENCH_USER,
    SCENARIO_NAMES,
    SCENARIOS,
    NotAnswering,
    Scenario,
    app_request_headers,
    check_answers_200,
    find_deep_page,
    probe_features,
    record_id,
)
from bench.servers import Server, ServerError
from bench.signin_memory import SIGN_IN_NAME, SIGN_IN_USERS, measure_sign_in_memory
from bench.wrk import WrkOutputError, WrkResult, run_wrk, wrk_command

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_ROWS = 1_000_000
DEFAULT_SERVER_URL = "mysql+aiomysql://root@127.0.0.1:3306"
# Fixed, so every run (and every server process) signs cursors and cookies alike.
BENCH_SECRET_KEY = "webapp-benchmark-secret-key-not-for-production-use"


class SetupError(Exception):
    """The benchmark cannot run; one line says why."""


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # A plain `kill` of the benchmark must still stop both servers (the finally in run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(args)
    except SetupError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped", file=sys.stderr)
        return 130


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark the app against a bare aiohttp reference on a large MariaDB "
        "table. Always exits 0 when it could measure, whatever the verdicts.",
    )
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="records to load (default 1,000,000)"
    )
    parser.add_argument("--reload", action="store_true", help="rebuild the tables even if present")
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds of load per URL (default 10)"
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent connections (default 32)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of load before each measured run (default 2)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=(*SCENARIO_NAMES, EXPORT_NAME, SIGN_IN_NAME),
        metavar="NAME",
        help=f"measure only this (repeatable): {', '.join(SCENARIO_NAMES)}, {EXPORT_NAME} "
        f"(download the whole table as CSV and JSON), or {SIGN_IN_NAME} (the server's peak "
        "memory while 20 browsers sign in at once)",
    )
    parser.add_argument(
        "--server-url",
        default=DEFAULT_SERVER_URL,
        help=f"the MariaDB server, without a database (default {DEFAULT_SERVER_URL})",
    )
    parser.add_argument(
        "--database",
        help="database to load and serve (default webapp_bench, or webapp_bench_ROWS "
        "when --rows is not 1,000,000, so a smoke run keeps the big table)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a quick check (~1 minute): --rows 20000 --duration 3 --warmup 1 unless given",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        given = set(argv if argv is not None else sys.argv[1:])
        for flag, value in (("--rows", 20_000), ("--duration", 3), ("--warmup", 1)):
            if not any(word == flag or word.startswith(flag + "=") for word in given):
                setattr(args, flag[2:], value)
    args.only_names = set(args.only or (*SCENARIO_NAMES, EXPORT_NAME, SIGN_IN_NAME))
    if args.duration <= 0 or args.connections < 1 or args.threads < 1 or args.warmup < 0:
        parser.error(
            "--duration, --connections and --threads must be positive, --warmup not negative"
        )
    if args.database is None:
        args.database = "webapp_bench" if args.rows == DEFAULT_ROWS else f"webapp_bench_{args.rows}"
    return args


def run(args: argparse.Namespace) -> int:
    selected = [s for s in SCENARIOS if s.name in args.only_names]
    try:
        server_url = make_url(args.server_url)
    except ArgumentError:
        raise SetupError(f"--server-url is not a database URL: {args.server_url!r}") from None
    if shutil.which("wrk") is None:
        raise SetupError("wrk is not installed (Debian: apt-get install -y wrk)")
    try:
        ensure_dataset(
            DatabaseServer.from_url(server_url), args.database, args.rows, reload=args.reload
        )
    except (pymysql.err.Error, ValueError) as exc:
        raise SetupError(f"cannot load the data into {args.database}: {exc}") from None

    try:
        pool_note = ensure_buffer_pool(DatabaseServer.from_url(server_url), args.database)
    except pymysql.err.Error as exc:
        pool_note = f"InnoDB buffer pool left as it is ({exc})"
    print(pool_note)

    started = dt.datetime.now(dt.UTC)
    load_at_start = os.getloadavg()
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    servers = build_servers(server_url.set(database=args.database), stamp)
    ensure_bench_user(servers["app"])
    if SIGN_IN_NAME in args.only_names:
        for username in missing_users(server_url.set(database=args.database), SIGN_IN_USERS):
            ensure_bench_user(servers["app"], username)
    results: dict[str, WrkResult] = {}
    exports: list[ExportResult] = []
    paths: dict[str, str] = {}
    raw: list[str] = []
    notes: list[str] = []
    try:
        try:
            headers: dict[str, dict[str, str]] = {"app": {}, "reference": {}}
            for name, server in servers.items():
                wanted = any(scenario.server == name for scenario in selected)
                extras = {EXPORT_NAME, SIGN_IN_NAME} & args.only_names
                if wanted or (name == "app" and extras):
                    server.start()
                    print(f"{name}: {server.base_url}")
            if servers["app"].process is not None:
                headers["app"] = app_request_headers(servers["app"].base_url)
                missing = asyncio.run(probe_features(servers["app"].base_url, headers["app"]))
                notes += [note for name, note in missing.items() if name in args.only_names]
            for scenario in selected:
                server = servers[scenario.server]
                path = resolve_path(scenario, args.rows, server.base_url, headers["app"], notes)
                try:
                    asyncio.run(check_answers_200(server.base_url, path, headers[scenario.server]))
                except NotAnswering as exc:
                    notes.append(f"{scenario.name}: not measured: {exc}")
                    print(f"{scenario.name:>9}: not measured: {exc}")
                    continue
                paths[scenario.name] = path
                if scenario.server == "app":
                    # A browser keeps the cookie the app refreshes (once a minute, see
                    # signin.SEEN_REFRESH_SECONDS); wrk cannot, so every URL starts from
                    # a fresh sign-in, as a browser's recent cookie would be.
                    headers["app"] = app_request_headers(server.base_url)
                result, output = measure_rounds(
                    args, server.base_url + path, headers[scenario.server], scenario
                )
                results[scenario.name] = result
                raw.append(f"## {scenario.name}\n\n{output}")
                print(
                    f"{scenario.name:>9}: {result.requests_per_second:8,.0f} req/s  "
                    f"p50 {result.p50_ms:8.2f} ms  p99 {result.p99_ms:8.2f} ms  "
                    f"max {result.max_ms:8.2f} ms  failed {result.failures}"
                )
            if EXPORT_NAME in args.only_names:
                headers["app"] = app_request_headers(servers["app"].base_url)
                exports = measure_exports(
                    servers["app"].base_url, headers["app"], servers["app"].rss_bytes
                )
                for exported in exports:
                    print(
                        f"{EXPORT_NAME:>9}: {exported.path} {exported.rows:,} rows in "
                        f"{exported.seconds:.1f} s ({exported.rows_per_second:,.0f} rows/s)"
                    )
            if SIGN_IN_NAME in args.only_names:
                burst = measure_sign_in_memory(servers["app"].base_url, servers["app"].rss_bytes)
                notes.append(f"{SIGN_IN_NAME}: {burst.line}")
                print(f"{SIGN_IN_NAME:>9}: {burst.line}")
        except (ServerError, WrkOutputError, aiohttp.ClientError, RuntimeError, OSError) as exc:
            raise SetupError(str(exc).splitlines()[0] if str(exc) else repr(exc)) from None
        memory = {
            name: server.rss_bytes()
            for name, server in servers.items()
            if server.process is not None
        }
    finally:
        for server in servers.values():
            server.stop()

    report = render_report(
        title=f"Benchmark {started:%Y-%m-%d %H:%M} UTC",
        settings=[*describe_run(args, load_at_start), pool_note],
        results=results,
        paths=paths,
        verdicts=evaluate_targets(results, memory.get("app")),
        memory=memory,
        notes=notes,
        exports=exports,
    )
    report_path = RESULTS_DIR / f"{stamp}.md"
    report_path.write_text(report, encoding="utf-8")
    (RESULTS_DIR / f"{stamp}-wrk.txt").write_text("\n".join(raw), encoding="utf-8")
    print()
    print(report)
    print(f"saved: {report_path.relative_to(ROOT)}")
    return 0


def missing_users(database_url: URL, usernames: Sequence[str]) -> list[str]:
    """Which of `usernames` the app's users table of the benchmark database lacks."""
    connection = DatabaseServer.from_url(database_url).connect(database_url.database)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT username FROM webapp_users")
            existing = {row[0] for row in cursor.fetchall()}
    except pymysql.err.ProgrammingError:  # no users table yet
        existing = set()
    finally:
        connection.close()
    return [name for name in usernames if name not in existing]


def ensure_bench_user(app: Server, username: str = BENCH_USER) -> None:
    """A viewer account the benchmark signs in with, made (or its password reset) through
    the app's own `user` command in the benchmark database."""
    for action in ("add", "set-password"):
        words = ["user", action, username] + (["--role", "viewer"] if action == "add" else [])
        done = subprocess.run(
            [python_for_app(), "-m", "webapp", *words],
            input=BENCH_PASSWORD + "\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, **app.env},
        )
        if done.returncode == 0:
            return
        if action == "add" and "exists" in done.stderr:
            continue
        raise SetupError(f"cannot make the benchmark user: {done.stderr.strip()}")


def build_servers(database_url: URL, stamp: str) -> dict[str, Server]:
    """The app through its real entry point and the project's venv, and the reference;
    neither started yet. Their output goes to logs beside the report."""
    url_text = database_url.render_as_string(hide_password=False)
    app = Server(
        "the app (python -m webapp)",
        [python_for_app(), "-m", "webapp", "--host", "127.0.0.1", "--port", "{port}"],
        {
            "WEBAPP_DATABASE_URL": url_text,
            "WEBAPP_DATABASE_DEMO": "0",
            "WEBAPP_SECRET_KEY": BENCH_SECRET_KEY,
        },
        RESULTS_DIR / f"{stamp}-app.log",
        cwd=ROOT,
    )
    reference_command = [sys.executable, str(ROOT / "bench" / "reference_app.py")]
    reference = Server(
        "the reference server",
        [*reference_command, "--url", url_text, "--port", "{port}"],
        {},
        RESULTS_DIR / f"{stamp}-reference.log",
        cwd=ROOT,
    )
    return {"reference": reference, "app": app}


def resolve_path(
    scenario: Scenario, rows: int, base_url: str, headers: dict[str, str], notes: list[str]
) -> str:
    """The scenario's path with its placeholders filled: the deep page by walking (once;
    the API's deep page is the same cursor under /api)."""
    path = scenario.path
    if path in ("{deep}", "{api_deep}"):
        if "deep" not in _DEEP_PATHS:
            print("deep: walking rel=next links to ~20,000 pages of 50 in")
            deep = asyncio.run(find_deep_page(base_url, rows, headers))
            notes.append(f"deep: {deep.note}")
            _DEEP_PATHS["deep"] = deep.path
        path = _DEEP_PATHS["deep"] if path == "{deep}" else "/api" + _DEEP_PATHS["deep"]
    return path.replace("{record_id}", str(record_id(rows)))


# The deep page's path, found once per run by walking.
_DEEP_PATHS: dict[str, str] = {}


def measure_rounds(
    args: argparse.Namespace, url: str, headers: dict[str, str], scenario: Scenario
) -> tuple[WrkResult, str]:
    """The scenario measured `scenario.rounds` times (each after its warm-up); the round of
    median p50 is the result, and every round's output is kept."""
    script = str(ROOT / "bench" / scenario.script) if scenario.script else None
    rounds = [
        measure(args, url, headers, scenario.connections, script)
        for _ in range(max(1, scenario.rounds))
    ]
    result = median_round([item[0] for item in rounds])
    if len(rounds) == 1:
        return rounds[0]
    p50s = ", ".join(f"{item[0].p50_ms:.2f} ms" for item in rounds)
    outputs = "\n\n".join(output for _, output in rounds)
    return result, f"{len(rounds)} rounds, p50 {p50s}; the median round reported\n\n{outputs}"


def median_round(rounds: Sequence[WrkResult]) -> WrkResult:
    """The round of median p50 (of an even number, the upper middle one)."""
    return sorted(rounds, key=lambda result: result.p50_ms)[len(rounds) // 2]


def measure(
    args: argparse.Namespace,
    url: str,
    headers: dict[str, str],
    connections: int | None = None,
    script: str | None = None,
) -> tuple[WrkResult, str]:
    """A warm-up run (not recorded), then the measured one, with `connections` (the
    scenario's) or the run's, and the scenario's wrk `script`, if any."""
    options: dict[str, Any] = {
        "connections": connections or args.connections,
        "threads": args.threads,
        "headers": headers,
        "script": script,
    }
    if args.warmup:
        run_wrk(wrk_command(url, duration=args.warmup, **options))
    command = wrk_command(url, duration=args.duration, **options)
    result, output = run_wrk(command)
    return result, f"{shlex.join(command)}\n\n{output}"


def python_for_app() -> str:
    """The project's virtualenv Python if there is one, so the app runs as installed."""
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def describe_run(args: argparse.Namespace, load_at_start: tuple[float, ...]) -> list[str]:
    command = shlex.join([".venv/bin/python", "bench/run.py", *sys.argv[1:]])
    return [
        f"command: `{command}`",
        f"data: {args.rows:,} records, 1,000 owners, database `{args.database}`",
        f"load: wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
        f"(after {args.warmup:g} s of warm-up per URL)",
        f"app commit: {git_commit()}",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        "load average (1/5/15 min) at the start "
        + "/".join(f"{value:.2f}" for value in load_at_start)
        + ", at the end "
        + "/".join(f"{value:.2f}" for value in os.getloadavg())
        + " (other work on the machine skews the numbers; the ratios less so)",
    ]


def git_commit() -> str:
    def git(*words: str) -> str:
        done = subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


if __name__ == "__main__":
    sys.exit(main())
