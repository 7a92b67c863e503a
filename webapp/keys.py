"""Typed keys for what hangs off the application and each request."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .accounts.store import Accounts
from .catalog import Catalog
from .counts import CountCache, RowCountCache
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
CATALOG = web.AppKey("catalog", Catalog)
ROW_COUNTS = web.AppKey("row_counts", RowCountCache)
ACCOUNTS = web.AppKey("accounts", Accounts)
PAGE_COUNTS = web.AppKey("page_counts", CountCache)

DB_SESSION = web.RequestKey("db_session", AsyncSession)

SESSION_COOKIE = "webapp_session"
