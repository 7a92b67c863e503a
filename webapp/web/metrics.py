"""The app's Prometheus metrics (prometheus-client): requests by route and status and their
latency, the database pools and statements, downloads in progress and done, failed and
throttled sign-ins. Each app has a registry of its own. With several worker processes
(`PROMETHEUS_MULTIPROC_DIR` set, as `--workers N` does) every process writes its values to
files there and `/metrics` sums them over all processes, so any worker gives the whole
service's figures."""

from __future__ import annotations

import os
import time
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.web.errors import Handler

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: page views take milliseconds, a slow search or a download seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STATEMENT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
# The statement kinds a duration is filed under (never the text: that is unbounded and may
# hold values); anything else is `other`.
STATEMENT_KINDS = frozenset(
    {
        "select",
        "insert",
        "update",
        "delete",
        "with",
        "begin",
        "commit",
        "rollback",
        "savepoint",
        "release",
        "set",
        "show",
        "create",
        "alter",
        "drop",
        "explain",
        "pragma",
    }
)
UNMATCHED_ROUTE = "(unmatched)"


class Metrics:
    """The metrics of one app, registered in its own registry (in multiprocess mode they
    also write to this process's files)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_VARIABLE))
        registry = self.registry
        self.requests = Counter(
            "webapp_http_requests",
            "Requests answered, by route pattern, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "webapp_http_request_duration_seconds",
            "Time from a request's arrival to its answer (a download: to its last byte).",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.pool_in_use = Gauge(
            "webapp_db_pool_connections_in_use",
            "Database connections checked out of the pool.",
            ["pool"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.pool_overflow = Gauge(
            "webapp_db_pool_overflow",
            "Connections open beyond the pool's size (its overflow).",
            ["pool"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.pool_at_limit = Counter(
            "webapp_db_pool_at_limit",
            "Checkouts that took the last connection the pool may open: the next one waits.",
            ["pool"],
            registry=registry,
        )
        self.pool_wait_timeouts = Counter(
            "webapp_db_pool_wait_timeouts",
            "Waits for a pooled connection that ran out of database.pool_timeout (a 503).",
            registry=registry,
        )
        self.statements = Histogram(
            "webapp_db_statement_duration_seconds",
            "Database statements' durations, by kind (the statement's first keyword).",
            ["kind"],
            buckets=STATEMENT_BUCKETS,
            registry=registry,
        )
        self.exports_in_progress = Gauge(
            "webapp_exports_in_progress",
            "Table downloads (CSV, JSON) being streamed now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.exports = Counter(
            "webapp_exports",
            "Table downloads ended, by format and outcome.",
            ["format", "outcome"],
            registry=registry,
        )
        self.sign_in_failures = Counter(
            "webapp_sign_in_failures",
            "Sign-ins refused for a wrong user name or password.",
            registry=registry,
        )
        self.sign_in_throttled = Counter(
            "webapp_sign_in_throttled",
            "Sign-ins refused (429) because of too many failures.",
            registry=registry,
        )

    def exposition(self) -> bytes:
        """The text format: this process's registry, or every process's files summed."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)

    def watch_engine(
        self, engine: AsyncEngine, pool: str, limit: int | None, *, statements: bool = True
    ) -> None:
        """Follow `engine`'s pool (checkouts, overflow) and, with `statements`, time its
        statements. `limit`: the most connections the pool may open (None: no limit worth
        reporting)."""
        sync_engine = engine.sync_engine
        in_use = self.pool_in_use.labels(pool)
        overflow = self.pool_overflow.labels(pool)
        at_limit = self.pool_at_limit.labels(pool)

        def sample(connection_pool: Any) -> None:
            overflow.set(max(0, getattr(connection_pool, "overflow", lambda: 0)()))

        def on_checkout(*_: Any) -> None:
            in_use.inc()
            connection_pool = sync_engine.pool
            sample(connection_pool)
            checked_out = getattr(connection_pool, "checkedout", lambda: 0)()
            if limit is not None and checked_out >= limit:
                at_limit.inc()

        def on_checkin(*_: Any) -> None:
            in_use.dec()
            sample(sync_engine.pool)

        event.listen(sync_engine.pool, "checkout", on_checkout)
        event.listen(sync_engine.pool, "checkin", on_checkin)
        if not statements:
            return

        def before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            conn.info.setdefault("metrics_started", []).append(time.perf_counter())

        def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            starts = conn.info.get("metrics_started")
            if starts:
                self.statements.labels(statement_kind(statement)).observe(
                    time.perf_counter() - starts.pop()
                )

        event.listen(sync_engine, "before_cursor_execute", before)
        event.listen(sync_engine, "after_cursor_execute", after)


def statement_kind(statement: str) -> str:
    """`select`, `insert`... from a statement's first keyword; `other` for anything else."""
    head = statement.lstrip(" \t\r\n(")[:16].split(None, 1)
    word = head[0].lower() if head else ""
    return word if word in STATEMENT_KINDS else "other"


def route_label(request: web.Request) -> str:
    """The matched route's pattern (`/t/{table}/r/{key}`): bounded, unlike the paths."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


METRICS = web.AppKey("metrics", Metrics)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every answer by route and status, and time it (the outermost middleware, so
    error pages and refusals count too)."""
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = route_label(request)
        metrics.requests.labels(route, request.method, str(status)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - started)


def mark_process_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (connections in use, downloads running) from the
    sums; its counters stay counted. A no-op outside multiprocess mode."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        prometheus_multiprocess.mark_process_dead(pid)


def content_type() -> str:
    return CONTENT_TYPE_LATEST
