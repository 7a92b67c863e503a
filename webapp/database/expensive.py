"""Expensive request kinds (searches, filters and sorts no index serves, facets, counts,
downloads) share a bounded number of database connections, so that however many of them
arrive, page views and sign-in still find a free connection. Their page queries run under a
statement time limit, and identical ones in flight run once for every request waiting on
them."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from webapp.database.dialects import is_timeout, statement_time_limit
from webapp.web.errors import TooBusy, TooSlow

T = TypeVar("T")


def expensive_slots_for(pool_size: int) -> int:
    """Half the pool (at least one) for expensive work, the rest for pages and sign-in."""
    return max(1, pool_size // 2)


class ExpensiveQueries:
    """The slots expensive work takes (each is one database connection), how long a
    request waits for one, and the queries in flight by what they compute."""

    def __init__(
        self, engine: AsyncEngine, *, limit: int, time_limit: float, wait_seconds: float
    ) -> None:
        self.engine = engine
        self.limit = limit
        self.time_limit = time_limit
        self.wait_seconds = wait_seconds
        self.taken = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._in_flight: dict[Hashable, asyncio.Task[Any]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, *, wait: bool = True) -> AsyncIterator[None]:
        """Hold one slot for the block. With `wait`, queue for one (first come, first
        served) at most `wait_seconds`; without, take one only if one is free now. Past
        that: TooBusy (503 with Retry-After)."""
        await self._take(wait)
        try:
            yield
        finally:
            self._give_back()

    async def run(
        self,
        key: Hashable,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        wait: bool = True,
        time_limited: bool = True,
    ) -> T:
        """`work` on a connection of its own, in a slot, its statements limited to
        `time_limit` (TooSlow past it) unless it sets tighter limits itself
        (`time_limited=False`). A request asking for a `key` already in flight waits for
        that run's answer instead of starting another; the run finishes even if the
        request that started it leaves, so the others still get it."""
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._run(work, wait, time_limited))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    async def _run(
        self, work: Callable[[AsyncConnection], Awaitable[T]], wait: bool, time_limited: bool
    ) -> T:
        async with self.slot(wait=wait), self.engine.connect() as conn:
            if not time_limited:
                return await work(conn)
            try:
                async with statement_time_limit(conn, self.time_limit):
                    return await work(conn)
            except DBAPIError as exc:
                if not is_timeout(exc):
                    raise
        raise TooSlow(self.time_limit)

    def _finished(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a run nobody waits for any more is quiet

    async def _take(self, wait: bool) -> None:
        if self.taken < self.limit and not self._waiters:
            self.taken += 1
            return
        if not wait:
            raise self._busy()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.wait_seconds):
                await waiter
        except TimeoutError:
            self._abandon(waiter)
            raise self._busy() from None
        except BaseException:
            self._abandon(waiter)
            raise

    def _abandon(self, waiter: asyncio.Future[None]) -> None:
        """Stop waiting; a slot handed over just as the wait ended is passed on."""
        if waiter.done() and not waiter.cancelled():
            self._give_back()
        else:
            waiter.cancel()

    def _give_back(self) -> None:
        """Hand the slot to the first request still waiting, else free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.taken -= 1

    def _busy(self) -> TooBusy:
        noun = "search or download is" if self.limit == 1 else "searches or downloads are"
        return TooBusy(f"{self.limit} {noun} running already. Try again in a moment.")
