"""Reading and changing users, shared by the command line and the admin page. Every refusal
is an AccountError whose message can be shown as it is."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from webapp.accounts.models import (
    USERNAME_MAX,
    AccountModels,
    UserModel,
    account_models,
    migrate,
)
from webapp.accounts.passwords import Passwords, password_problem
from webapp.settings import ROLES, AuthSettings, DatabaseSettings, Settings
from webapp.ttl_cache import TtlCache

USERNAME_PATTERN = re.compile(rf"^[\w.@+-]{{1,{USERNAME_MAX}}}$")
USER_STATE_TTL = 5.0


def accounts_database(settings: Settings) -> DatabaseSettings | None:
    """The separate database for the app's tables, or None for the connected one."""
    url = settings.auth.database_url
    if url is None:
        return None
    database = settings.database
    return DatabaseSettings(
        url=url,
        pool_size=database.pool_size,
        pool_timeout=database.pool_timeout,
        connect_timeout=database.connect_timeout,
        statement_timeout=database.statement_timeout,
        lock_timeout=database.lock_timeout,
    )


class AccountError(Exception):
    """A refused change to users, phrased for the person who asked."""


@dataclass(frozen=True)
class UserState:
    """What each request needs to know about its user: small, and cached for a few seconds."""

    id: int
    username: str
    role: str
    disabled: bool
    session_version: int
    has_password: bool
    # Acting through a read-only API token: the role's catalog, but no writes.
    read_only: bool = False


@dataclass
class Accounts:
    """Everything the app needs to work with its users."""

    settings: AuthSettings
    models: AccountModels
    sessionmaker: async_sessionmaker[AsyncSession]
    passwords: Passwords
    # User states by id (None: no such user) for USER_STATE_TTL seconds, so most requests
    # run no users query. A change made in this process drops its entry at once; other
    # processes see it within the TTL.
    states: TtlCache[int, UserState | None] = field(
        default_factory=lambda: TtlCache(USER_STATE_TTL, max_entries=10_000)
    )
    # API tokens' states by id (webapp.accounts.api_tokens), kept as briefly.
    tokens: TtlCache[int, Any] = field(
        default_factory=lambda: TtlCache(USER_STATE_TTL, max_entries=10_000)
    )

    @classmethod
    def on(cls, engine: AsyncEngine, settings: AuthSettings) -> Accounts:
        return cls(
            settings=settings,
            models=account_models(settings.table_prefix),
            sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
            passwords=Passwords(settings.password_hash, settings.max_concurrent_hashes),
        )

    async def migrate(self) -> None:
        """Create or upgrade the app's own tables."""
        async with self.sessionmaker() as session, session.begin():
            conn = await session.connection()
            await conn.run_sync(migrate, self.models)

    async def schema_version(self) -> int:
        """The last migration step recorded as applied (0: none)."""
        versions = self.models.table(self.models.schema_version)
        async with self.sessionmaker() as session:
            return await session.scalar(select(func.max(versions.c.version))) or 0

    async def count_users(self, with_password: bool = False) -> int:
        """How many users exist (with `with_password`: how many could sign in with one)."""
        User = self.models.user
        statement = select(func.count()).select_from(User)
        if with_password:
            statement = statement.where(User.password_hash.is_not(None))
        async with self.sessionmaker() as session:
            return await session.scalar(statement) or 0

    async def list_users(self) -> Sequence[UserModel]:
        User = self.models.user
        async with self.sessionmaker() as session:
            return (await session.scalars(select(User).order_by(User.username))).all()

    async def state(self, user_id: int) -> UserState | None:
        """The user's state, from the cache when fresh."""
        if user_id in self.states:
            return self.states.get(user_id)
        async with self.sessionmaker() as session:
            user = await session.get(self.models.user, user_id)
        result = None
        if user is not None:
            result = UserState(
                id=user.id,
                username=user.username,
                role=user.role,
                disabled=user.disabled,
                session_version=user.session_version,
                has_password=user.password_hash is not None,
            )
        self.states.put(user_id, result)
        return result

    async def add_user(self, username: str, role: str, password: str | None) -> UserModel:
        """Create a user; `password` None leaves it to be set at first sign-in (links only)."""
        username = username.strip()
        if not USERNAME_PATTERN.match(username):
            raise AccountError(
                "a user name is 1 to 150 letters, digits or . @ + - _ "
                f"(no spaces), not {username!r}"
            )
        check_role(role)
        password_hash = None
        if password is not None:
            problem = password_problem(password)
            if problem:
                raise AccountError(problem)
            password_hash = await self.passwords.hash(password)
        User = self.models.user
        user = User(username=username, role=role, password_hash=password_hash, disabled=False)
        try:
            async with self.sessionmaker() as session, session.begin():
                session.add(user)
        except IntegrityError:
            raise AccountError(f"a user named {username!r} already exists") from None
        return user

    async def find(self, session: AsyncSession, username: str) -> UserModel:
        user = await session.scalar(
            select(self.models.user).where(self.models.user.username == username)
        )
        if user is None:
            raise AccountError(f"there is no user named {username!r}")
        return user

    async def set_role(self, username: str, role: str) -> None:
        check_role(role)
        async with self.sessionmaker() as session, session.begin():
            user = await self.find(session, username)
            if user.role == "admin" and role != "admin":
                await self._keep_an_admin(session, user.id)
            user.role = role
        self.states.drop(user.id)

    async def set_disabled(self, username: str, disabled: bool) -> None:
        async with self.sessionmaker() as session, session.begin():
            user = await self.find(session, username)
            if disabled and user.role == "admin" and not user.disabled:
                await self._keep_an_admin(session, user.id)
            if user.disabled != disabled:
                user.disabled = disabled
                user.session_version += 1
        self.states.drop(user.id)

    async def set_password(self, username: str, password: str) -> int:
        """Set a new password; every session of the user ends except the one that is given
        the returned session version."""
        problem = password_problem(password)
        if problem:
            raise AccountError(problem)
        password_hash = await self.passwords.hash(password)
        async with self.sessionmaker() as session, session.begin():
            user = await self.find(session, username)
            user.password_hash = password_hash
            user.session_version += 1
            version = user.session_version
        self.states.drop(user.id)
        return version

    async def end_sessions(self, user_id: int) -> None:
        """Make every cookie of this user signed out (logout)."""
        User = self.models.user
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(session_version=User.session_version + 1)
            )
        self.states.drop(user_id)

    async def authenticate(self, username: str, password: str) -> UserModel | None:
        """The user these credentials belong to, or None. Unknown, disabled and password-less
        users are verified against a dummy hash, so every refusal costs the same."""
        async with self.sessionmaker() as session:
            user = await session.scalar(
                select(self.models.user).where(self.models.user.username == username)
            )
        stored = None if user is None or user.disabled else user.password_hash
        # `stored` is None exactly when the user cannot sign in; the check runs all the same.
        if not await self.passwords.verify(stored, password) or user is None or stored is None:
            return None
        if self.passwords.needs_rehash(stored):
            new_hash = await self.passwords.hash(password)
            async with self.sessionmaker() as session, session.begin():
                await session.execute(
                    update(self.models.user)
                    .where(self.models.user.id == user.id)
                    .values(password_hash=new_hash)
                )
        return user

    async def free_admin_name(self) -> str:
        """`admin`, or `admin2`, `admin3`... whichever is not taken."""
        User = self.models.user
        async with self.sessionmaker() as session:
            taken = set(
                await session.scalars(select(User.username).where(User.username.like("admin%")))
            )
        number = 1
        while (name := "admin" if number == 1 else f"admin{number}") in taken:
            number += 1
        return name

    async def _keep_an_admin(self, session: AsyncSession, losing_id: int) -> None:
        User = self.models.user
        others = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == "admin", User.disabled.is_(False), User.id != losing_id)
        )
        if not others:
            raise AccountError("this is the last enabled admin; make another admin first")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
