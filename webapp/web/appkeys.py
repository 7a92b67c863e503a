"""Typed keys for what hangs off the application and each request. The types are named for
the type checker only, so that importing the keys imports none of the packages they name."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from webapp.accounts.store import Accounts, UserState
    from webapp.changes.import_jobs import ImportJobs
    from webapp.database.expensive import ExpensiveQueries
    from webapp.listing.counts import RowCount
    from webapp.listing.facets import Facet
    from webapp.listing.paging import Page
    from webapp.listing.statistics import ColumnStatistics
    from webapp.schema.catalog import Catalog
    from webapp.schema.watch import SchemaWatch
    from webapp.settings import Settings
    from webapp.ttl_cache import TtlCache

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine")
SESSIONMAKER: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessionmaker")
# What GET and HEAD requests read through: on MySQL an engine of its own whose connections
# are in autocommit mode (database.engine.database_context); elsewhere the same as
# ENGINE/SESSIONMAKER.
READ_ENGINE: web.AppKey[AsyncEngine] = web.AppKey("read_engine")
READ_SESSIONMAKER: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("read_sessionmaker")
# The catalog with the table-wide options of config.yaml: every table any role may see.
CATALOG: web.AppKey[Catalog] = web.AppKey("catalog")
# One catalog per role, narrowed by its rules; pages read it through
# roles.request_catalog, never directly.
ROLE_CATALOGS: web.AppKey[dict[str, Catalog]] = web.AppKey("role_catalogs")
# What keeps CATALOG and ROLE_CATALOGS in step with a schema that changes underneath.
SCHEMA_WATCH: web.AppKey[SchemaWatch] = web.AppKey("schema_watch")
# The index page's counts of every table, and the table pages' counts by (table, filters).
INDEX_COUNTS: web.AppKey[TtlCache[str, dict[str, RowCount]]] = web.AppKey("index_counts")
TABLE_COUNTS: web.AppKey[TtlCache[Hashable, RowCount]] = web.AppKey("table_counts")
# Column statistics by (role, view, column), kept a few seconds (views.statistics).
COLUMN_STATISTICS: web.AppKey[TtlCache[Hashable, ColumnStatistics]] = web.AppKey(
    "column_statistics"
)
# The table pages' facets by (table, role, view), briefly (listing.facets.facet_cache).
FACETS: web.AppKey[TtlCache[Hashable, list[Facet]]] = web.AppKey("facets")
# Search pages that found no row, by (role, view), briefly (listing.search.search_miss_cache).
SEARCH_MISSES: web.AppKey[TtlCache[Hashable, Page]] = web.AppKey("search_misses")
ACCOUNTS: web.AppKey[Accounts] = web.AppKey("accounts")
# Slots, time limit and in-flight queries of expensive request kinds
# (database.engine.database_context).
EXPENSIVE_QUERIES: web.AppKey[ExpensiveQueries] = web.AppKey("expensive_queries")
# The SQL console's read-only engine (console.lifecycle): a pool of its own.
CONSOLE_ENGINE: web.AppKey[AsyncEngine] = web.AppKey("console_engine")

# Where the server's start says what it is doing (the command line prints each line); absent
# in tests and embedded apps, which start silently.
STARTUP_PROGRESS: web.AppKey[Callable[[str], None]] = web.AppKey("startup_progress")

DB_SESSION: web.RequestKey[AsyncSession] = web.RequestKey("db_session")
# The signed-in user (accounts.signin.signin_middleware); absent on the public pages.
CURRENT_USER: web.RequestKey[UserState] = web.RequestKey("current_user")
# Set on a request authenticated by an API token (accounts.signin): it carries no cookie,
# so the CSRF check does not apply to it.
BEARER: web.RequestKey[bool] = web.RequestKey("bearer")
# The import jobs of this process: uploaded files, their dry runs and imports.
IMPORT_JOBS: web.AppKey[ImportJobs] = web.AppKey("import_jobs")
