"""The sign-in memory measurement: many sign-ins at once, each a password hash that takes
`auth.password_hash.memory_kib` (64 MiB by default), while the server's resident memory is
sampled; `auth.max_concurrent_hashes` is what keeps the peak down. Each browser signs in as
a user of its own (SIGN_IN_USERS), so that none is held back by the per-user limit on
concurrent attempts and every one reaches the hash."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bench.scenarios import BENCH_PASSWORD

SIGN_IN_NAME = "signin"
CONCURRENT_SIGN_INS = 20  # at most auth.max_failures_per_address (20): none is refused
SIGN_IN_USERS = tuple(f"bench_signin_{n:02}" for n in range(CONCURRENT_SIGN_INS))
RSS_SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class SignInMemory:
    sign_ins: int
    succeeded: int
    seconds: float
    rss_before: int | None
    peak_rss: int | None

    @property
    def line(self) -> str:
        def mb(value: int | None) -> str:
            return f"{value / 2**20:.0f} MB" if value is not None else "unknown"

        return (
            f"{self.sign_ins} sign-ins at once: {self.succeeded} signed in within "
            f"{self.seconds:.1f} s; server RSS {mb(self.rss_before)} before, "
            f"peak {mb(self.peak_rss)}"
        )


async def sign_in_burst(
    base_url: str, rss: Callable[[], int | None], count: int = CONCURRENT_SIGN_INS
) -> SignInMemory:
    """`count` browsers sign in as the benchmark's user at the same moment."""
    before = rss()
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            now = rss()
            if now is not None and (peak is None or now > peak):
                peak = now
            await asyncio.sleep(RSS_SAMPLE_SECONDS)

    async def one(session: aiohttp.ClientSession, username: str, start: asyncio.Event) -> bool:
        async with session.get(base_url + "/login") as response:
            match = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
        if match is None:
            raise RuntimeError("sign-in: the login page has no form token")
        await start.wait()
        form = {"csrf_token": match.group(1), "username": username, "password": BENCH_PASSWORD}
        async with session.post(base_url + "/login", data=form, allow_redirects=False) as answer:
            return answer.status == 303

    timeout = aiohttp.ClientTimeout(total=60)
    sessions = [
        aiohttp.ClientSession(timeout=timeout, cookie_jar=aiohttp.CookieJar(unsafe=True))
        for _ in range(count)
    ]
    start = asyncio.Event()
    sampler = asyncio.create_task(sample())
    try:
        attempts = [
            asyncio.create_task(one(session, username, start))
            for session, username in zip(sessions, SIGN_IN_USERS, strict=True)
        ]
        await asyncio.sleep(1)  # every browser has its form
        began = time.perf_counter()
        start.set()
        outcomes = await asyncio.gather(*attempts)
        seconds = time.perf_counter() - began
    finally:
        done.set()
        await sampler
        for session in sessions:
            await session.close()
    return SignInMemory(count, sum(outcomes), seconds, before, peak)


def measure_sign_in_memory(base_url: str, rss: Callable[[], int | None]) -> SignInMemory:
    return asyncio.run(sign_in_burst(base_url, rss))
