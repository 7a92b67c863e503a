"""Where the app's own tables live and when they are made: in the connected database by
default (sharing its engine), or in the separate `auth.database_url`; migrated at startup."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.accounts.store import Accounts, accounts_database
from webapp.accounts.tokens import create_sign_in_token
from webapp.database.dialects import create_engine, describe_url
from webapp.database.engine import StartupError
from webapp.settings import Settings
from webapp.web.appkeys import ACCOUNTS, ENGINE, SETTINGS
from webapp.web.errors import first_line


class AccountsStartupError(StartupError):
    """The users' tables cannot be used; the message says why in one line."""


class NoUsersError(Exception):
    """Refusal to serve a non-loopback address before any user exists."""


async def accounts_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after the database's): migrate the app's tables and keep `Accounts`."""
    settings = app[SETTINGS]
    separate = accounts_database(settings)
    engine = create_engine(separate) if separate is not None else app[ENGINE]
    try:
        accounts = Accounts.on(engine, settings.auth)
        await _migrate(accounts, settings)
        await accounts.passwords.prepare()
        app[ACCOUNTS] = accounts
        yield
    finally:
        if separate is not None:
            await engine.dispose()


async def first_run(settings: Settings) -> str | None:
    """Before serving: migrate, and when no user can sign in with a password yet (none
    exists, or only one made by a link and left without a password) either refuse a
    non-loopback host or return a one-time sign-in token to print."""
    separate = accounts_database(settings)
    engine: AsyncEngine = create_engine(separate or settings.database)
    try:
        accounts = Accounts.on(engine, settings.auth)
        await _migrate(accounts, settings)
        try:
            users = await accounts.count_users(with_password=True)
        except Exception as exc:
            raise AccountsStartupError(_reason(settings, exc)) from exc
        if users:
            return None
        if not is_loopback(settings.host):
            raise NoUsersError(
                f"no user exists yet, so webapp will not serve {settings.host} (not a loopback "
                "address); first run `python -m webapp user add NAME --role admin`"
            )
        return await create_sign_in_token(accounts)
    finally:
        await engine.dispose()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _migrate(accounts: Accounts, settings: Settings) -> None:
    try:
        await accounts.migrate()
    except Exception as exc:
        raise AccountsStartupError(_reason(settings, exc)) from exc


def _reason(settings: Settings, exc: BaseException) -> str:
    url = settings.auth.database_url or settings.database.url
    reason = first_line(exc)
    return f"cannot use the database {describe_url(url)}: {reason}"
