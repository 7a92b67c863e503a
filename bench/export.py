"""The export measurement: one client downloads every row of the big table as CSV and as
JSON, while the server's resident memory is sampled, so the report says how fast a whole
table comes out and that memory stays flat while it does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp

from bench.scenarios import TABLE

EXPORT_NAME = "export"
EXPORT_FORMATS = ("csv", "json")
RSS_SAMPLE_SECONDS = 0.05
CHUNK_BYTES = 1 << 16


@dataclass(frozen=True)
class ExportResult:
    format_name: str
    path: str
    rows: int
    bytes: int
    seconds: float
    peak_rss_bytes: int | None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0


def count_rows(format_name: str, newlines: int) -> int:
    """Rows in a download from its line count: CSV has a header line, our JSON one line per
    row between `[` and `]` (a value's own line breaks are escaped in JSON; in CSV a quoted
    line break would overcount, which the benchmark's data does not hold)."""
    return newlines - 1 if format_name == "csv" else newlines - 2


async def download(
    base_url: str,
    format_name: str,
    headers: Mapping[str, str],
    rss: Callable[[], int | None],
) -> ExportResult:
    """Download the table in one format, timing it and sampling the server's VmRSS."""
    path = f"/t/{TABLE}.{format_name}"
    peak: int | None = rss()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            now = rss()
            if now is not None and (peak is None or now > peak):
                peak = now
            await asyncio.sleep(RSS_SAMPLE_SECONDS)

    sampler = asyncio.create_task(sample())
    size = newlines = 0
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(headers=dict(headers), timeout=timeout) as session,
            session.get(base_url + path, allow_redirects=False) as response,
        ):
            if response.status != 200:
                raise RuntimeError(f"export {path} answered {response.status}")
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                newlines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    finally:
        done.set()
        await sampler
    return ExportResult(format_name, path, count_rows(format_name, newlines), size, seconds, peak)


def measure_exports(
    base_url: str, headers: Mapping[str, str], rss: Callable[[], int | None]
) -> list[ExportResult]:
    return [
        asyncio.run(download(base_url, format_name, headers, rss)) for format_name in EXPORT_FORMATS
    ]


def exports_table(results: list[ExportResult]) -> str:
    lines = [
        "| export | rows | size | seconds | rows/s | MB/s | server peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        peak = (
            f"{result.peak_rss_bytes / 1024**2:.0f} MB"
            if result.peak_rss_bytes is not None
            else "unknown"
        )
        lines.append(
            f"| `{result.path}` | {result.rows:,} | {result.bytes / 1e6:,.1f} MB "
            f"| {result.seconds:.1f} | {result.rows_per_second:,.0f} "
            f"| {result.megabytes_per_second:.1f} | {peak} |"
        )
    return "\n".join(lines)
