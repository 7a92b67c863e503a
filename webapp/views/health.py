"""Health checks for a balancer or an orchestrator: `/healthz` says the process answers
(no database, no sign-in); `/readyz` says it can serve pages: the database answers within a
short time and the app's own tables are at the migration this version expects. Both are
public and cheap enough to poll every second."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import literal, select

from webapp.accounts.models import MIGRATIONS
from webapp.web.appkeys import ACCOUNTS, ENGINE
from webapp.web.errors import first_line

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
READY_TIMEOUT = 2.0  # seconds the whole readiness check may take before it says not ready
NO_STORE = {"Cache-Control": "no-store"}


async def healthz(request: web.Request) -> web.Response:
    """The process runs its event loop: nothing more is asked."""
    return web.Response(text="ok\n", headers=NO_STORE)


async def readyz(request: web.Request) -> web.Response:
    """200 `ready`, or 503 with the reason in one line for the operator."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            reason = await not_ready_because(request.app)
    except TimeoutError:
        reason = f"the database did not answer within {READY_TIMEOUT:g} s"
    except Exception as exc:  # any failure takes this process out of rotation, with why
        reason = f"the database cannot be used: {first_line(exc)}"
    if reason is not None:
        return web.Response(status=503, text=f"not ready: {reason}\n", headers=NO_STORE)
    return web.Response(text="ready\n", headers=NO_STORE)


async def not_ready_because(app: web.Application) -> str | None:
    """Why this process cannot serve pages now, or None: one statement on the browsed
    database, one on the app's own tables (the same database unless configured apart)."""
    async with app[ENGINE].connect() as conn:
        await conn.execute(select(literal(1)))
    applied = await app[ACCOUNTS].schema_version()
    expected = len(MIGRATIONS)
    if applied != expected:
        return f"the app's tables are at migration {applied}, this version expects {expected}"
    return None
