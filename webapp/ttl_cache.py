"""A small in-process cache whose entries are fresh for a fixed number of seconds: what the
app keeps briefly so that a burst of requests does not repeat the same work (row counts,
users' states). Bounded in size; nothing in it is needed by another process."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# A caller that claimed an entry is trusted to put a value within this; then another may try.
CLAIM_SECONDS = 10.0


class TtlCache(Generic[K, V]):
    """Values by key, each fresh for `ttl` seconds after it was put. When an entry is
    missing or old, `lookup` lets one caller at a time remake it while the others go on with
    the old value (or none), so a burst of requests never remakes it in a burst. At most
    `max_entries` are kept: when full, all are forgotten (they are cheap to remake)."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._claims: dict[K, float] = {}

    def __contains__(self, key: K) -> bool:
        """Whether a fresh value is stored for `key` (it may be None)."""
        entry = self._entries.get(key)
        return entry is not None and self._clock() - entry[0] < self.ttl

    def get(self, key: K) -> V | None:
        """The fresh value for `key`, or None."""
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def lookup(self, key: K) -> tuple[V | None, bool]:
        """The best value known (possibly old, possibly None) and whether the caller should
        remake it now and `put` the result (or `release` its claim): true for one caller at
        a time per key."""
        moment = self._clock()
        entry = self._entries.get(key)
        if entry is not None and moment - entry[0] < self.ttl:
            return entry[1], False
        known = entry[1] if entry is not None else None
        claimed = self._claims.get(key)
        if claimed is not None and moment - claimed < CLAIM_SECONDS:
            return known, False
        self._claims[key] = moment
        return known, True

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self.max_entries and key not in self._entries:
            self._entries.clear()
            self._claims.clear()
        self._entries[key] = (self._clock(), value)
        self._claims.pop(key, None)

    def release(self, key: K) -> None:
        """Give up a claim (remaking failed), so that the next caller tries again."""
        self._claims.pop(key, None)

    def drop(self, key: K) -> None:
        """Forget one entry: what it was made from changed."""
        self._entries.pop(key, None)
        self._claims.pop(key, None)

    def clear(self) -> None:
        """Forget every entry: what they were made from changed."""
        self._entries.clear()
        self._claims.clear()
