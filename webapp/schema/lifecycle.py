"""The catalog's start in the app: reflected once at startup (after the engines, and after
the demo is installed into an empty database), narrowed per role; kept in step afterwards by
webapp.schema.watch."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from webapp.database.engine import StartupError, unusable_database
from webapp.schema.catalog import (
    CatalogOptionsError,
    apply_table_options,
    copy_catalog,
    reflect_catalog,
    role_catalogs,
)
from webapp.web.appkeys import CATALOG, ENGINE, ROLE_CATALOGS, SETTINGS


async def catalog_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after the database's): the catalog with config.yaml's table options, and
    one catalog per role."""
    settings = app[SETTINGS]
    try:
        reflected = await reflect_catalog(app[ENGINE], settings.hidden_table_prefix)
    except Exception as exc:
        raise unusable_database(settings.database, exc) from exc
    catalog = copy_catalog(reflected)
    try:
        apply_table_options(catalog, settings.tables)
    except CatalogOptionsError as exc:
        raise StartupError(f"config: {exc}") from None
    app[ROLE_CATALOGS] = role_catalogs(reflected, settings.tables)
    app[CATALOG] = catalog
    yield
