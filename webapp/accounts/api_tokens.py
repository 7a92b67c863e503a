"""API tokens: a user makes one (its text is shown once), lists and revokes them; a request
with `Authorization: Bearer <token>` then acts as that user. A token's text is
`wat_<id>_<secret>`: the id finds the row, and only the SHA-256 of the secret is stored and
compared, in constant time. A token acts with its user's role (no writes when read-only),
and ends at once when it is revoked or expires or its user is disabled: its state and its
user's are cached for the few seconds of the users' cache, dropped at once in this process."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select, update

from webapp.accounts.models import ApiTokenModel
from webapp.accounts.store import AccountError, Accounts, UserState
from webapp.clock import utc_now

TOKEN_PATTERN = re.compile(r"^wat_([1-9][0-9]{0,17})_([A-Za-z0-9_-]{43})$")
NAME_MAX = 200
# Token ids are an INTEGER column: a larger number names no token (and no database may be
# asked for it: PostgreSQL refuses the parameter).
ID_MAX = 2**31 - 1
MAX_DAYS = 3650
# A token's last-used time is written at most this often, so a busy script costs no write
# per request.
LAST_USED_REFRESH = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class TokenState:
    """What a request needs of a token: whose it is, whether it may write, until when."""

    id: int
    user_id: int
    secret_hash: str
    read_only: bool
    expires_at: dt.datetime | None
    revoked: bool
    last_used_at: dt.datetime | None


async def create_token(
    accounts: Accounts, username: str, *, name: str = "", read_only: bool, days: int | None
) -> tuple[str, ApiTokenModel]:
    """A new token of `username`: its text (to show once; never stored) and its row."""
    name = name.strip()
    if len(name) > NAME_MAX:
        raise AccountError(f"a token's name is at most {NAME_MAX} characters")
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise AccountError(f"a token expires after 1 to {MAX_DAYS} days, not {days}")
    secret = secrets.token_urlsafe(32)
    expires = utc_now() + dt.timedelta(days=days) if days is not None else None
    Token = accounts.models.api_token
    async with accounts.sessionmaker() as session, session.begin():
        user = await accounts.find(session, username)
        token = Token(
            user_id=user.id,
            name=name,
            secret_hash=_digest(secret),
            read_only=read_only,
            created_at=utc_now(),
            expires_at=expires,
        )
        session.add(token)
        await session.flush()
    return f"wat_{token.id}_{secret}", token


async def list_tokens(accounts: Accounts, username: str) -> Sequence[ApiTokenModel]:
    """The user's tokens, newest first, revoked ones too (they say when)."""
    Token = accounts.models.api_token
    async with accounts.sessionmaker() as session:
        user = await accounts.find(session, username)
        statement = select(Token).where(Token.user_id == user.id).order_by(Token.id.desc())
        return (await session.scalars(statement)).all()


async def revoke_token(accounts: Accounts, token_id: int, *, user_id: int | None = None) -> None:
    """End token `token_id` for good (`user_id`: only if it is that user's)."""
    Token = accounts.models.api_token
    if not 1 <= token_id <= ID_MAX:
        raise AccountError(f"there is no token {token_id}")
    async with accounts.sessionmaker() as session, session.begin():
        token = await session.get(Token, token_id)
        if token is None or (user_id is not None and token.user_id != user_id):
            raise AccountError(f"there is no token {token_id}")
        if token.revoked_at is None:
            token.revoked_at = utc_now()
    accounts.tokens.drop(token_id)


async def token_user(accounts: Accounts, text: str) -> UserState | None:
    """The user a Bearer token acts as (read-only when the token is), or None when the
    token is malformed, unknown, revoked or expired, or its user is disabled."""
    match = TOKEN_PATTERN.match(text)
    if match is None:
        return None
    token_id, secret = int(match.group(1)), match.group(2)
    if token_id > ID_MAX:
        return None
    state = await _state(accounts, token_id)
    if state is None or not hmac.compare_digest(state.secret_hash, _digest(secret)):
        return None
    now = utc_now()
    if state.revoked or (state.expires_at is not None and state.expires_at <= now):
        return None
    user = await accounts.state(state.user_id)
    if user is None or user.disabled:
        return None
    if state.last_used_at is None or now - state.last_used_at >= LAST_USED_REFRESH:
        await _mark_used(accounts, state, now)
    return replace(user, read_only=True) if state.read_only else user


async def _state(accounts: Accounts, token_id: int) -> TokenState | None:
    if token_id in accounts.tokens:
        return accounts.tokens.get(token_id)
    async with accounts.sessionmaker() as session:
        token = await session.get(accounts.models.api_token, token_id)
    state = None
    if token is not None:
        state = TokenState(
            id=token.id,
            user_id=token.user_id,
            secret_hash=token.secret_hash,
            read_only=token.read_only,
            expires_at=token.expires_at,
            revoked=token.revoked_at is not None,
            last_used_at=token.last_used_at,
        )
    accounts.tokens.put(token_id, state)
    return state


async def _mark_used(accounts: Accounts, state: TokenState, now: dt.datetime) -> None:
    Token = accounts.models.api_token
    async with accounts.sessionmaker() as session, session.begin():
        await session.execute(update(Token).where(Token.id == state.id).values(last_used_at=now))
    accounts.tokens.put(state.id, replace(state, last_used_at=now))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()
