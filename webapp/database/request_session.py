"""The request's database session: every request gets its own, taking no connection until
first used, rolled back on any exception and always closed; and a read that met a connection
the server had closed runs once more on a fresh one."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from webapp.web.appkeys import (
    DB_SESSION,
    FACETS,
    READ_SESSIONMAKER,
    SEARCH_MISSES,
    SESSIONMAKER,
)
from webapp.web.errors import Handler

log = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD"})  # requests that only read: safe to repeat


@web.middleware
async def db_session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an AsyncSession (no connection until first used); roll it back on
    any exception and always close it. GET and HEAD, which only read, get one of the read
    engine (see dialects.create_engine(reads=True)). After any other request, which may
    have written, the facets and search misses cached of the data are forgotten."""
    reads = request.method in READ_METHODS
    key = READ_SESSIONMAKER if reads else SESSIONMAKER
    try:
        async with request.app[key]() as session:
            request[DB_SESSION] = session
            try:
                return await handler(request)
            except BaseException:
                await session.rollback()
                raise
    finally:
        if not reads:
            # What the request may have written: what was kept of the data is now stale.
            request.app[FACETS].clear()
            request.app[SEARCH_MISSES].clear()


@web.middleware
async def stale_connection_retry_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Run a read request once more when a pooled connection turned out to be dead (the
    database restarted, a proxy dropped idle connections). SQLAlchemy then invalidates every
    connection older than the failure, so the retry starts on a fresh one. This replaces a
    ping before every checkout, a round trip on every request, at no cost in robustness:
    reads are safe to repeat, and writes are never retried."""
    try:
        return await handler(request)
    except DBAPIError as exc:
        if request.method not in READ_METHODS or not exc.connection_invalidated:
            raise
        log.info("retrying %s %s on a fresh connection", request.method, request.path)
        return await handler(request)
