"""Argon2id password hashing. Hashing is slow on purpose, so it runs in a worker thread and
never blocks the event loop; a dummy hash makes unknown users cost the same as known ones.
Each hash takes the configured memory for its duration, so only a set number run at once;
the others wait their turn, for a bounded time."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from webapp.settings import PasswordHashSettings
from webapp.web.errors import TooBusy

T = TypeVar("T")

MIN_PASSWORD_LENGTH = 8
# How long a sign-in waits for a turn to hash before it is answered "busy".
HASH_WAIT_SECONDS = 10.0


class Passwords:
    """Hash and verify with the configured Argon2id parameters."""

    def __init__(self, params: PasswordHashSettings, concurrency: int = 2) -> None:
        self._turns = asyncio.Semaphore(concurrency)
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        self._dummy: str | None = None

    async def prepare(self) -> None:
        """Make the dummy hash now, so that even the first unknown user costs no more than a
        known one."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await self._in_turn(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`; with no stored hash, verify against a dummy
        so that the answer takes as long as for a real user."""
        if stored is None:
            await self.prepare()
            assert self._dummy is not None
            stored = self._dummy
        try:
            return await self._in_turn(self._hasher.verify, stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _in_turn(self, work: Callable[..., T], *args: Any) -> T:
        """`work` in a worker thread, in one of the limited hashing turns (waited for at
        most HASH_WAIT_SECONDS). The turn ends when the thread does: a request that leaves
        meanwhile cannot free it early, so no more hashes than allowed ever run."""
        try:
            async with asyncio.timeout(HASH_WAIT_SECONDS):
                await self._turns.acquire()
        except TimeoutError:
            raise TooBusy("Too many sign-ins at once. Try again in a moment.") from None
        running = asyncio.ensure_future(asyncio.to_thread(work, *args))
        running.add_done_callback(self._end_turn)
        return await asyncio.shield(running)

    def _end_turn(self, running: asyncio.Future[Any]) -> None:
        self._turns.release()
        if not running.cancelled():
            running.exception()  # retrieved, even when the request waiting for it left

    def needs_rehash(self, stored: str) -> bool:
        """Whether `stored` was made with other parameters than today's."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True


def password_problem(password: str) -> str | None:
    """Why a new password cannot be used, or None."""
    if not password:
        return "The password is empty."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."
    return None
