"""The database's lifecycle in the app: the engines and catalog are made at startup and the
engines disposed at cleanup; each request gets its own session, always closed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from webapp.database.dialects import create_engine, describe_url, reads_get_own_engine
from webapp.database.expensive import ExpensiveQueries, expensive_slots_for
from webapp.demo import install_demo
from webapp.listing.counts import CountCache, RowCountCache
from webapp.schema.catalog import (
    CatalogOptionsError,
    apply_table_options,
    copy_catalog,
    reflect_catalog,
    role_catalogs,
)
from webapp.web.appkeys import (
    CATALOG,
    DB_SESSION,
    ENGINE,
    EXPENSIVE_QUERIES,
    PAGE_COUNTS,
    READ_ENGINE,
    READ_SESSIONMAKER,
    ROLE_CATALOGS,
    ROW_COUNTS,
    SESSIONMAKER,
    SETTINGS,
)
from webapp.web.errors import Handler, first_line

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The app cannot start; the message says why in one line."""


async def database_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: own the engine for the app's whole life."""
    settings = app[SETTINGS]
    database = settings.database
    hidden = settings.hidden_table_prefix
    engine = create_engine(database)
    read_engine = create_engine(database, reads=True) if reads_get_own_engine(database) else engine
    try:
        try:
            if database.demo:
                await _install_demo_if_empty(engine, hidden)
            reflected = await reflect_catalog(engine, hidden)
        except Exception as exc:
            reason = first_line(exc)
            raise StartupError(
                f"cannot use the database {describe_url(database.url)}: {reason}"
            ) from exc
        catalog = copy_catalog(reflected)
        try:
            apply_table_options(catalog, app[SETTINGS].tables)
        except CatalogOptionsError as exc:
            raise StartupError(f"config: {exc}") from None
        app[ROLE_CATALOGS] = role_catalogs(reflected, app[SETTINGS].tables)
        app[ENGINE] = engine
        app[SESSIONMAKER] = async_sessionmaker(engine, expire_on_commit=False)
        app[READ_ENGINE] = read_engine
        app[READ_SESSIONMAKER] = (
            app[SESSIONMAKER]
            if read_engine is engine
            else async_sessionmaker(read_engine, expire_on_commit=False)
        )
        app[CATALOG] = catalog
        app[ROW_COUNTS] = RowCountCache()
        app[PAGE_COUNTS] = CountCache()
        app[EXPENSIVE_QUERIES] = ExpensiveQueries(
            read_engine,
            limit=database.expensive_connections or expensive_slots_for(database.pool_size),
            time_limit=database.expensive_time_limit,
            wait_seconds=database.pool_timeout,
        )
        yield
    finally:
        await engine.dispose()
        if read_engine is not engine:
            await read_engine.dispose()


async def _install_demo_if_empty(engine: AsyncEngine, hidden: str | None) -> None:
    """Fill the demo schema only into a database that has no tables at all (the app's own
    tables aside)."""
    catalog = await reflect_catalog(engine, hidden)
    if len(catalog) == 0:
        await install_demo(engine)


READ_METHODS = frozenset({"GET", "HEAD"})


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an AsyncSession (no connection until first used); roll it back on
    any exception and always close it. GET and HEAD, which only read, get one of the read
    engine (see dialects.create_engine(reads=True))."""
    key = READ_SESSIONMAKER if request.method in READ_METHODS else SESSIONMAKER
    async with request.app[key]() as session:
        request[DB_SESSION] = session
        try:
            return await handler(request)
        except BaseException:
            await session.rollback()
            raise


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
