"""The engines' lifecycle in the app: made at startup (with the pool share of expensive
queries), disposed at cleanup. The request's session is webapp.database.request_session's."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker

from webapp.database.dialects import create_engine, describe_url, reads_get_own_engine
from webapp.database.expensive import ExpensiveQueries, expensive_slots_for
from webapp.settings import DatabaseSettings
from webapp.web.appkeys import (
    ENGINE,
    EXPENSIVE_QUERIES,
    READ_ENGINE,
    READ_SESSIONMAKER,
    SESSIONMAKER,
    SETTINGS,
)
from webapp.web.errors import first_line
from webapp.web.metrics import METRICS


class StartupError(Exception):
    """The app cannot start; the message says why in one line."""


async def database_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: own the engines for the app's whole life. They connect when first used
    (the catalog's reflection, next), which reports a database that cannot be used."""
    database = app[SETTINGS].database
    engine = create_engine(database)
    read_engine = create_engine(database, reads=True) if reads_get_own_engine(database) else engine
    try:
        app[ENGINE] = engine
        app[SESSIONMAKER] = async_sessionmaker(engine, expire_on_commit=False)
        app[READ_ENGINE] = read_engine
        app[READ_SESSIONMAKER] = (
            app[SESSIONMAKER]
            if read_engine is engine
            else async_sessionmaker(read_engine, expire_on_commit=False)
        )
        metrics = app.get(METRICS)
        if metrics is not None:
            limit = None if database.backend == "sqlite" else 2 * database.pool_size
            metrics.watch_engine(engine, "primary", limit)
            if read_engine is not engine:
                # No statement listeners here: MySQL's page views run on the driver's
                # connection directly only while nothing watches the engine's statements.
                metrics.watch_engine(read_engine, "reads", limit, statements=False)
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


def unusable_database(database: DatabaseSettings, exc: BaseException) -> StartupError:
    """The startup error for a database the app cannot use, in one line without
    credentials."""
    return StartupError(f"cannot use the database {describe_url(database.url)}: {first_line(exc)}")
