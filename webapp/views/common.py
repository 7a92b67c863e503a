"""Small pieces every page family needs."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.accounts.signin import current_user
from webapp.changes.audit import AuditLog, AuditTrail
from webapp.web.appkeys import ACCOUNTS, DB_SESSION, ENGINE, SETTINGS


async def connection(request: web.Request) -> AsyncConnection:
    """The request session's connection, for Core statements on hot read paths."""
    return await request[DB_SESSION].connection()


def request_dialect(request: web.Request) -> Dialect:
    """The database's dialect, known without taking a connection (which an expensive request
    must not hold while it waits for its turn): the main engine's, which learnt the server's
    version and flavour (MariaDB or MySQL) when the catalog was reflected at startup."""
    return request.app[ENGINE].dialect


def session_dialect(request: web.Request) -> Dialect:
    """The dialect of the engine the request's session talks to (the read engine's for GET
    and HEAD): what parses and compares the values its statements bind."""
    return request[DB_SESSION].get_bind().dialect


def request_role(request: web.Request) -> str:
    """The role whose catalog a page is built from: part of what identifies its queries."""
    user = current_user(request)
    return user.role if user is not None else ""


def audit_log(app: web.Application) -> AuditLog:
    """Where the app's audit entries are: with its users' tables, in the data's database or
    in the separate `auth.database_url`."""
    accounts = app[ACCOUNTS]
    separate = accounts.sessionmaker if app[SETTINGS].auth.database_url else None
    return AuditLog(accounts.models, separate)


def audit_trail(request: web.Request, reverts_id: int | None = None) -> AuditTrail:
    """The trail for a write made on behalf of the request's signed-in user."""
    user = current_user(request)
    return AuditTrail(
        audit_log(request.app),
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else "",
        reverts_id=reverts_id,
    )


def attachment_disposition(filename: str) -> str:
    """A Content-Disposition that downloads, under `filename` whatever characters it holds."""
    return "attachment; filename*=UTF-8''" + quote(filename, safe="")
