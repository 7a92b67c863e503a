"""The one cache type the app keeps things in briefly (row counts, users' states): freshness,
one caller at a time remaking an entry, bounds. A hand-moved clock, never a real wait."""

from __future__ import annotations

from webapp.ttl_cache import CLAIM_SECONDS, TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_fresh_for_its_ttl_then_gone() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(30, clock=clock)
    assert cache.get("k") is None and "k" not in cache
    cache.put("k", 5)
    clock.now += 29.9
    assert cache.get("k") == 5 and "k" in cache
    clock.now += 0.1
    assert cache.get("k") is None and "k" not in cache


def test_none_is_a_value_that_contains_tells_apart_from_no_entry() -> None:
    cache: TtlCache[int, str | None] = TtlCache(5, clock=Clock())
    assert 7 not in cache
    cache.put(7, None)
    assert 7 in cache and cache.get(7) is None


def test_one_caller_remakes_an_entry_and_the_others_use_the_old_value() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(30, clock=clock)
    assert cache.lookup("k") == (None, True)
    assert cache.lookup("k") == (None, False)  # another caller is making it
    cache.put("k", 5)
    assert cache.lookup("k") == (5, False)
    clock.now += 31
    assert cache.lookup("k") == (5, True)  # old: this caller remakes it
    assert cache.lookup("k") == (5, False)  # meanwhile the old value serves
    clock.now += CLAIM_SECONDS + 1  # the caller that claimed it never came back
    assert cache.lookup("k") == (5, True)
    cache.release("k")  # remaking failed
    assert cache.lookup("k") == (5, True)


def test_drop_and_clear_forget_values_and_claims() -> None:
    cache: TtlCache[str, int] = TtlCache(30, clock=Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.lookup("c") == (None, True)
    cache.drop("a")
    assert cache.get("a") is None and cache.get("b") == 2
    cache.clear()
    assert cache.get("b") is None
    assert cache.lookup("c") == (None, True)  # the claim went with the rest


def test_a_full_cache_starts_over_rather_than_growing() -> None:
    cache: TtlCache[int, int] = TtlCache(30, max_entries=3, clock=Clock())
    for key in range(3):
        cache.put(key, key)
    cache.put(1, 10)  # replacing an entry never empties the cache
    assert [cache.get(key) for key in range(3)] == [0, 10, 2]
    cache.put(3, 3)
    assert [cache.get(key) for key in range(4)] == [None, None, None, 3]
