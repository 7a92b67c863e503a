"""The application factory: routes, middlewares, templates and the database lifecycle.
Nothing happens at import time."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session, session_middleware
from cryptography.fernet import Fernet

from webapp.accounts.lifecycle import accounts_context
from webapp.accounts.signin import current_user, signin_middleware
from webapp.api import setup_api_routes
from webapp.api.cors import add_cors_headers, cors_preflight_middleware
from webapp.console.lifecycle import console_context
from webapp.database.engine import database_context
from webapp.database.request_session import (
    db_session_middleware,
    stale_connection_retry_middleware,
)
from webapp.demo import demo_context
from webapp.listing.counts import count_caches
from webapp.listing.facets import facet_cache
from webapp.listing.rows_html import cell_class, cell_html
from webapp.listing.search import search_miss_cache
from webapp.listing.statistics import STATISTICS_CACHE_SECONDS
from webapp.schema.lifecycle import catalog_context
from webapp.schema.watch import schema_change_middleware, schema_watch_context
from webapp.secret_key import fernet_key
from webapp.settings import Settings, load_settings
from webapp.ttl_cache import TtlCache
from webapp.views import setup_routes
from webapp.views.imports import import_jobs_context
from webapp.views.trace import trace_middleware
from webapp.web.access_log import (
    add_request_id_header,
    client_note_middleware,
    configure_access_log,
    request_log_middleware,
    user_note_middleware,
)
from webapp.web.appkeys import (
    COLUMN_STATISTICS,
    FACETS,
    INDEX_COUNTS,
    SEARCH_MISSES,
    SETTINGS,
    TABLE_COUNTS,
)
from webapp.web.body_deadline import body_deadline_middleware
from webapp.web.csrf import csrf_middleware, csrf_token
from webapp.web.error_pages import error_middleware
from webapp.web.flash import flash_processor
from webapp.web.headers import add_security_headers
from webapp.web.html_text import visible_controls
from webapp.web.metrics import METRICS, Metrics, metrics_middleware
from webapp.web.proxies import TrustedProxies
from webapp.web.relative_time import time_ago
from webapp.web.request_body import UPLOAD_LIMIT, body_limit_middleware
from webapp.web.session_cookie import SESSION_COOKIE, SessionCookieStorage
from webapp.web.urls import import_url, new_record_url, schema_url


def data_dir(name: str) -> Path:
    """Where the pages or static files are: inside the package when installed (a wheel has no
    top-level folders; in a checkout `webapp/<name>` is a symlink to the top-level one), else
    the checkout's top-level folder (a checkout made without symlinks)."""
    package = Path(__file__).resolve().parent
    inside = package / name
    return inside if inside.is_dir() else package.parent / name


TEMPLATES_DIR = data_dir("templates")
STATIC_DIR = data_dir("static")


def database_label(settings: Settings) -> str:
    """What the header shows of the connected database: its name, never credentials."""
    url = settings.database.url
    if settings.database.backend == "sqlite":
        return Path(url.database or "").name
    return f"{url.get_backend_name()} · {url.host or 'localhost'} · {url.database or ''}"


def session_storage(settings: Settings) -> SessionCookieStorage:
    """The browser session lives in an encrypted, signed cookie, so any server process holding
    the same secret key can serve it; nothing is kept in this process."""
    return SessionCookieStorage(
        Fernet(fernet_key(settings.secret_key)),
        cookie_name=SESSION_COOKIE,
        httponly=True,
        samesite="Lax",
        max_age=None,
    )


async def signed_in_context(request: web.Request) -> dict[str, object]:
    """What every page's header needs: the signed-in user and the token its forms carry."""
    user = current_user(request)
    if user is None:
        return {"user": None}
    return {"user": user, "csrf_token": csrf_token(await get_session(request))}


def create_app(settings: Settings) -> web.Application:
    proxies = [TrustedProxies(settings.trusted_proxies).middleware, client_note_middleware]
    app = web.Application(
        middlewares=[
            request_log_middleware(settings.access_log),
            metrics_middleware,
            body_limit_middleware,
            error_middleware,
            # Right inside the error pages, so everything after sees the real client.
            *(proxies if settings.trusted_proxies else []),
            body_deadline_middleware,
            session_middleware(session_storage(settings)),
            stale_connection_retry_middleware,
            schema_change_middleware,
            cors_preflight_middleware,
            signin_middleware,
            user_note_middleware,
            csrf_middleware,
            trace_middleware,
            db_session_middleware,
        ],
        client_max_size=UPLOAD_LIMIT,
    )
    app.on_response_prepare.append(add_security_headers)
    app.on_response_prepare.append(add_request_id_header)
    app.on_response_prepare.append(add_cors_headers)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[INDEX_COUNTS], app[TABLE_COUNTS] = count_caches()
    app[COLUMN_STATISTICS] = TtlCache(STATISTICS_CACHE_SECONDS, max_entries=500)
    app[FACETS] = facet_cache()
    app[SEARCH_MISSES] = search_miss_cache()
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        context_processors=[flash_processor, signed_in_context],
        finalize=visible_controls,
    )
    env.globals["app_name"] = "webapp"
    env.globals["database_label"] = database_label(settings)
    env.globals["new_record_url"] = new_record_url
    env.globals["import_url"] = import_url
    env.globals["schema_url"] = schema_url
    env.globals["cell_html"] = cell_html
    env.globals["cell_class"] = cell_class
    env.globals["time_ago"] = time_ago
    env.globals["sql_roles"] = settings.sql.roles
    app.cleanup_ctx.append(database_context)
    app.cleanup_ctx.append(demo_context)
    app.cleanup_ctx.append(catalog_context)
    app.cleanup_ctx.append(schema_watch_context)
    app.cleanup_ctx.append(accounts_context)
    app.cleanup_ctx.append(console_context)
    app.cleanup_ctx.append(import_jobs_context)
    setup_routes(app)
    setup_api_routes(app)
    app.router.add_static(
        "/static", STATIC_DIR, follow_symlinks=False, show_index=False, name="static"
    )
    return app


async def gunicorn_app() -> web.Application:
    """The app factory for gunicorn's aiohttp worker (`gunicorn -c python:webapp.gunicorn_conf
    webapp.app:gunicorn_app`), called in each worker process: the settings file is
    WEBAPP_CONFIG, else `config.yaml` in the working directory when there is one."""
    settings = load_settings(gunicorn_config_path())
    configure_access_log(settings.access_log)
    return create_app(settings)


def gunicorn_config_path() -> Path | None:
    given = os.environ.get("WEBAPP_CONFIG")
    if given:
        return Path(given)
    default = Path("config.yaml")
    return default if default.is_file() else None
