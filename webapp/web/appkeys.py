"""Typed keys for what hangs off the application and each request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from webapp.accounts.store import Accounts
from webapp.database.expensive import ExpensiveQueries
from webapp.listing.counts import CountCache, RowCountCache
from webapp.schema.catalog import Catalog
from webapp.settings import Settings

if TYPE_CHECKING:  # schema.watch reads these keys; only its type is needed here
    from webapp.schema.watch import SchemaWatch

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
# What GET and HEAD requests read through: on MySQL an engine of its own whose connections
# are in autocommit mode (db.database_context); elsewhere the same as ENGINE/SESSIONMAKER.
READ_ENGINE = web.AppKey("read_engine", AsyncEngine)
READ_SESSIONMAKER = web.AppKey("read_sessionmaker", async_sessionmaker[AsyncSession])
# The catalog with the table-wide options of config.yaml: every table any role may see.
CATALOG = web.AppKey("catalog", Catalog)
# One catalog per role, narrowed by its rules; pages read it through
# permissions.request_catalog, never directly.
ROLE_CATALOGS: web.AppKey[dict[str, Catalog]] = web.AppKey("role_catalogs", dict)
ROW_COUNTS = web.AppKey("row_counts", RowCountCache)
ACCOUNTS = web.AppKey("accounts", Accounts)
PAGE_COUNTS = web.AppKey("page_counts", CountCache)
# What keeps CATALOG and ROLE_CATALOGS in step with a schema that changes underneath.
SCHEMA_WATCH: web.AppKey[SchemaWatch] = web.AppKey("schema_watch")
# Slots, time limit and in-flight queries of expensive request kinds (db.database_context).
EXPENSIVE_QUERIES = web.AppKey("expensive_queries", ExpensiveQueries)
# The SQL console's read-only engine (console.lifecycle): a pool of its own.
CONSOLE_ENGINE = web.AppKey("console_engine", AsyncEngine)

DB_SESSION = web.RequestKey("db_session", AsyncSession)
