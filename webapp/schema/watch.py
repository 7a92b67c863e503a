"""Keeping the catalog in step with a database whose schema changes while the app runs.

The app browses databases it does not own: tables and columns get added, renamed and dropped
underneath it. Three things notice: a statement failing on an unknown table or column
(`schema_change_middleware`), a cheap fingerprint of the database's tables and columns
compared every `database.schema_check_interval` seconds, and SIGHUP. Each leads to the same
re-reflection, one at a time (callers arriving meanwhile share it), bounded by
`database.schema_reload_timeout`; the new catalogs replace the old ones in one step, so a
request sees either the old catalog or the new one, and every other table keeps working."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import fields

from aiohttp import web

from webapp.database.dialects import is_schema_mismatch, schema_fingerprint
from webapp.database.request_session import READ_METHODS
from webapp.schema.catalog import Catalog, CatalogOptionsError, reflect_catalog
from webapp.schema.rebuild import rebuilt_catalogs
from webapp.web.appkeys import (
    CATALOG,
    CURRENT_USER,
    ENGINE,
    FACETS,
    INDEX_COUNTS,
    ROLE_CATALOGS,
    SCHEMA_WATCH,
    SEARCH_MISSES,
    SETTINGS,
    TABLE_COUNTS,
)
from webapp.web.errors import AppError, Handler, NotFound, first_line
from webapp.web.flash import flash
from webapp.web.problems import is_api
from webapp.web.urls import UrlDecodeError, tilde_decode

log = logging.getLogger(__name__)

# Routes whose answer is no HTML page, so a notice would wait for some later page.
QUIET_ROUTES = frozenset({"export", "value", "lookup"})
CHANGED_NOTICE = "This table changed in the database; the page shows its new columns."
NOT_SAVED_NOTICE = (
    "This table changed in the database, so nothing was saved; the form shows its new columns."
)
# Vanished table names remembered per role, to explain a 404; the oldest are forgotten.
MAX_VANISHED = 1000


class SchemaOutOfStep(AppError):
    """A statement names something the database does not have, and re-reflecting did not
    change the catalog: the schema is changing right now, or a view is broken."""

    status = 503
    title = "The database changed"
    retry_after_seconds = 5


class SchemaWatch:
    """The running app's view of the schema: the fingerprint its catalog was reflected
    from, the one re-reflection in flight, and which tables vanished (per role)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.generation = 0  # bumped by every swap of catalogs
        self.fingerprint: str | None = None
        self.vanished: dict[str, dict[str, None]] = {}  # role -> table names, oldest first
        # Columns hidden for caution after a hidden column vanished (see schema.rebuild).
        self.carried: dict[str, frozenset[str]] = {}
        self._reload: asyncio.Task[bool] | None = None
        self._signalled: set[asyncio.Task[bool]] = set()

    async def refresh(self, reason: str, *, force: bool = False) -> bool:
        """Re-reflect if the database's fingerprint differs from the catalog's (always if
        `force`), sharing a re-reflection already under way; whether the catalogs changed.
        Never raises for the database's sake: a failure is logged and the catalog kept."""
        task = self._reload
        if task is None or task.done():
            task = asyncio.ensure_future(self._refresh(reason, force))
            self._reload = task
        # Shielded: a request whose client leaves must not cancel everybody's reload.
        return await asyncio.shield(task)

    def reload_on_signal(self) -> None:
        """SIGHUP: re-reflect now, whatever the fingerprint says (after a check under way,
        which may have found nothing to do)."""
        log.info("SIGHUP: reloading the database schema")
        task = asyncio.ensure_future(self._forced_refresh("SIGHUP"))
        self._signalled.add(task)
        task.add_done_callback(self._signalled.discard)

    async def _forced_refresh(self, reason: str) -> bool:
        under_way = self._reload
        if under_way is not None and not under_way.done():
            await asyncio.wait([under_way])
        return await self.refresh(reason, force=True)

    async def _refresh(self, reason: str, force: bool) -> bool:
        settings = self.app[SETTINGS]
        engine = self.app[ENGINE]
        hidden = settings.hidden_table_prefix
        try:
            async with asyncio.timeout(settings.database.schema_reload_timeout):
                async with engine.connect() as conn:
                    fingerprint = await schema_fingerprint(conn, hidden)
                if fingerprint == self.fingerprint and not force:
                    return False
                reflected = await reflect_catalog(engine, hidden)
        except TimeoutError:
            log.warning(
                "cannot reload the database schema (%s): it took longer than %s s",
                reason,
                settings.database.schema_reload_timeout,
            )
            return False
        except Exception as exc:
            log.warning("cannot reload the database schema (%s): %s", reason, first_line(exc))
            return False
        try:
            catalog, roles, carried = rebuilt_catalogs(
                reflected, settings.tables, self.app[CATALOG], self.carried
            )
        except CatalogOptionsError as exc:
            log.warning("cannot reload the database schema (%s): config: %s", reason, exc)
            return False
        self._swap(catalog, roles, reason)
        self.fingerprint = fingerprint
        self.carried = carried
        return True

    def _swap(self, catalog: Catalog, roles: dict[str, Catalog], reason: str) -> None:
        """Put the new catalogs in place of the old in one step (no await in between), and
        forget counts made for the old tables."""
        live = self.app[CATALOG]
        before = set(live.tables)
        for role, old in self.app[ROLE_CATALOGS].items():
            gone = self.vanished.setdefault(role, {})
            for name in set(old.tables) - set(roles[role].tables):
                gone.pop(name, None)
                gone[name] = None
            for name in roles[role].tables:
                gone.pop(name, None)
            while len(gone) > MAX_VANISHED:
                del gone[next(iter(gone))]
        for item in fields(live):
            setattr(live, item.name, getattr(catalog, item.name))
        self.app[ROLE_CATALOGS].update(roles)
        self.app[INDEX_COUNTS].clear()
        self.app[TABLE_COUNTS].clear()
        self.app[FACETS].clear()
        self.app[SEARCH_MISSES].clear()
        self.generation += 1
        after = set(live.tables)
        log.info(
            "database schema reloaded (%s): %d tables and views; added %s; gone %s",
            reason,
            len(after),
            ", ".join(sorted(after - before)) or "none",
            ", ".join(sorted(before - after)) or "none",
        )

    def vanished_for(self, role: str, name: str) -> bool:
        """Whether `name` was a table `role` saw, and the database no longer has it."""
        return name in self.vanished.get(role, {})

    async def close(self) -> None:
        """Stop every re-reflection under way (cleanup: the engine is about to go)."""
        tasks = [task for task in (self._reload, *self._signalled) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def watch(self, interval: float) -> None:
        """Compare the fingerprint every `interval` seconds, for the app's whole life."""
        while True:
            await asyncio.sleep(interval)
            await self.refresh("the database's tables or columns changed")


async def schema_watch_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after the database's): the fingerprint the startup catalog matches, and
    the periodic comparison while the app runs."""
    settings = app[SETTINGS]
    watch = SchemaWatch(app)
    app[SCHEMA_WATCH] = watch
    try:
        async with asyncio.timeout(settings.database.schema_reload_timeout):
            async with app[ENGINE].connect() as conn:
                watch.fingerprint = await schema_fingerprint(conn, settings.hidden_table_prefix)
    except Exception as exc:  # the first check then re-reflects; the app starts regardless
        log.warning("cannot take the schema's fingerprint: %s", type(exc).__name__)
    interval = settings.database.schema_check_interval
    task = asyncio.ensure_future(watch.watch(interval)) if interval > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await watch.close()


def reload_on_sighup(app: web.Application) -> None:
    """Make SIGHUP re-reflect the schema of the running server (`python -m webapp`)."""

    async def install(app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, app[SCHEMA_WATCH].reload_on_signal)
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)

    app.cleanup_ctx.append(install)


@web.middleware
async def schema_change_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn a statement failing on an unknown table or column into a re-reflection and an
    answer that says what changed: a 404 naming a vanished table; for a page view, the page
    again from the new catalog (with a notice if the catalog changed: a read is safe to
    repeat, and on PostgreSQL a statement prepared before the change may just need to be
    prepared again); for a change, nothing saved and the form again. A 404 for a table that
    vanished earlier says so too."""
    watch = request.app[SCHEMA_WATCH]
    generation = watch.generation
    try:
        return await handler(request)
    except NotFound:
        _raise_if_vanished(request)
        raise
    except Exception as exc:
        if not is_schema_mismatch(exc):
            raise
        await watch.refresh(f"{request.method} {request.path}: {first_line(exc)}")
        _raise_if_vanished(request)
    changed = watch.generation != generation
    if request.method not in READ_METHODS:
        if not changed or is_api(request):  # a script gets the refusal, not a redirect
            raise SchemaOutOfStep(_out_of_step_message(request))
        await flash(request, NOT_SAVED_NOTICE)
        raise web.HTTPSeeOther(request.path)
    if (
        changed
        and request.method == "GET"
        and _table_name(request) is not None
        and request.match_info.route.name not in QUIET_ROUTES
    ):
        await flash(request, CHANGED_NOTICE)
    try:
        return await handler(request)
    except Exception as exc:
        if not is_schema_mismatch(exc):
            raise
        raise SchemaOutOfStep(_out_of_step_message(request)) from None


def _table_name(request: web.Request) -> str | None:
    slug = request.match_info.get("table")
    if slug is None:
        return None
    try:
        return tilde_decode(slug)
    except UrlDecodeError:
        return None


def _raise_if_vanished(request: web.Request) -> None:
    name = _table_name(request)
    user = request.get(CURRENT_USER)
    if name is None or user is None:
        return
    if name in request.app[ROLE_CATALOGS][user.role].tables:
        return
    if request.app[SCHEMA_WATCH].vanished_for(user.role, name):
        raise NotFound(f"The table {name!r} no longer exists (the database changed).")


def _out_of_step_message(request: web.Request) -> str:
    name = _table_name(request)
    subject = f"The table {name!r}" if name is not None else "A table this page reads"
    return (
        f"{subject} does not match what the database holds right now: its tables are being "
        "changed, or a view refers to something the database no longer has. Try again in a "
        "moment."
    )
