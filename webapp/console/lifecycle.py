"""The console's engine for the app's whole life, and the query trace on every engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from webapp.database.read_only import create_read_only_engine
from webapp.database.trace import trace_engine
from webapp.web.appkeys import ACCOUNTS, CONSOLE_ENGINE, ENGINE, READ_ENGINE, SETTINGS


async def console_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after the database's and the accounts'): the read-only engine the
    console runs statements on (connecting lazily, at the first run), and tracing on."""
    settings = app[SETTINGS]
    sql = settings.sql
    engine = create_read_only_engine(
        settings.database, sql.database_url, sql.connections, sql.time_limit
    )
    accounts_bind = app[ACCOUNTS].sessionmaker.kw.get("bind")
    for traced in (app[ENGINE], app[READ_ENGINE], engine, accounts_bind):
        if traced is not None:
            trace_engine(traced)
    app[CONSOLE_ENGINE] = engine
    try:
        yield
    finally:
        await engine.dispose()
