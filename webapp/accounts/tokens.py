"""One-time sign-in links for the first run: the secret is printed once, only its SHA-256 is
stored, and redeeming deletes the row, so a link works exactly once, until it expires."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, cast

from sqlalchemy import CursorResult, delete

from webapp.accounts.store import Accounts
from webapp.clock import utc_now


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_sign_in_token(accounts: Accounts) -> str:
    Token = accounts.models.sign_in_token
    token = secrets.token_urlsafe(32)
    expires = utc_now() + dt.timedelta(seconds=accounts.settings.sign_in_link_ttl)
    async with accounts.sessionmaker() as session, session.begin():
        await session.execute(delete(Token).where(Token.expires_at < utc_now()))
        session.add(Token(token_hash=_digest(token), expires_at=expires))
    return token


async def redeem_sign_in_token(accounts: Accounts, token: str) -> bool:
    """Whether the link was valid and unexpired; a valid one is deleted as it is used, and
    of two concurrent redeemers only one sees its row deleted."""
    if not token or len(token) > 200:
        return False
    Token = accounts.models.sign_in_token
    async with accounts.sessionmaker() as session, session.begin():
        result = await session.execute(
            delete(Token).where(Token.token_hash == _digest(token), Token.expires_at >= utc_now())
        )
        # A DELETE's result is a CursorResult; AsyncSession.execute types every one as Result.
        return cast(CursorResult[Any], result).rowcount == 1
