"""The benchmark's targets, judged from wrk results, and the markdown report. Pure functions:
numbers in, verdicts and text out."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.export import ExportResult, exports_table
from bench.wrk import WrkResult

DEEP_P50_FACTOR = 1.5
FIRST_PAGE_SHARE_OF_REFERENCE = 0.60
MAX_LATENCY_MS = 1000.0
MAX_RSS_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Verdict:
    target: str
    outcome: str  # PASS, FAIL or SKIP (not measured in this run)
    detail: str

    @property
    def line(self) -> str:
        return f"{self.outcome}: {self.target} ({self.detail})"


def evaluate_targets(results: Mapping[str, WrkResult], app_rss_bytes: int | None) -> list[Verdict]:
    """The benchmark's targets, each PASS, FAIL, or SKIP when this run did not measure
    what it needs (e.g. under --only)."""
    return [
        _deep_vs_first(results),
        _first_vs_reference(results),
        _max_latency(results),
        _rss(app_rss_bytes),
        _api_vs_json_reference(results),
        _api_vs_html_page(results),
        _record_vs_reference(results),
        _small_tables_vs_big(results),
        *(_search_answers(results, name) for name in UNINDEXED_SEARCHES),
    ]


UNINDEXED_SEARCH_P50_MS = 500.0
UNINDEXED_SEARCHES = ("search_nomatch", "search_fresh")


def _search_answers(results: Mapping[str, WrkResult], name: str) -> Verdict:
    """A search no index answers gives an answer (rows, or how far it read and a way on)
    within the target, however big the table."""
    target = f"{name}: p50 < {format_ms(UNINDEXED_SEARCH_P50_MS)}"
    result = results.get(name)
    if result is None:
        return Verdict(target, "SKIP", f"needs {name!r}")
    answered = math.isfinite(result.p50_ms) and not result.failures
    outcome = "PASS" if answered and result.p50_ms < UNINDEXED_SEARCH_P50_MS else "FAIL"
    detail = f"{format_ms(result.p50_ms)}, {result.failure_summary} failed"
    return Verdict(target, outcome, detail)


RECORD_SHARE_OF_REFERENCE = 0.5
SMALL_TABLE_P50_FACTOR = 1.2


def _record_vs_reference(results: Mapping[str, WrkResult]) -> Verdict:
    target = f"record page req/s >= {RECORD_SHARE_OF_REFERENCE:.0%} of the bare record handler"
    page, reference = results.get("record"), results.get("reference_record")
    if page is None or reference is None or not reference.requests_per_second:
        return Verdict(target, "SKIP", "needs 'record' and 'reference_record'")
    share = page.requests_per_second / reference.requests_per_second
    outcome = "PASS" if share >= RECORD_SHARE_OF_REFERENCE else "FAIL"
    detail = (
        f"{page.requests_per_second:,.0f} vs {reference.requests_per_second:,.0f} req/s: "
        f"{share:.0%}"
    )
    return Verdict(target, outcome, detail)


def _small_tables_vs_big(results: Mapping[str, WrkResult]) -> Verdict:
    target = (
        f"page 1 of 1k, 10k and 1M rows alone: p50 within {SMALL_TABLE_P50_FACTOR}x of each other"
    )
    names = ("first_1k", "first_10k", "first_alone")
    measured = [results[name] for name in names if name in results]
    if len(measured) < len(names):
        return Verdict(target, "SKIP", f"needs {', '.join(repr(n) for n in names)}")
    p50s = [result.p50_ms for result in measured]
    if not all(math.isfinite(value) and value > 0 for value in p50s):
        return Verdict(target, "FAIL", "a page answered nothing")
    spread = max(p50s) / min(p50s)
    outcome = "PASS" if spread <= SMALL_TABLE_P50_FACTOR else "FAIL"
    detail = ", ".join(
        f"{name} {format_ms(value)}" for name, value in zip(names, p50s, strict=True)
    )
    return Verdict(target, outcome, f"{detail}: {spread:.2f}x")


def _deep_vs_first(results: Mapping[str, WrkResult]) -> Verdict:
    target = f"deep page p50 <= {DEEP_P50_FACTOR}x first page p50"
    deep, first = results.get("deep"), results.get("first")
    if deep is None or first is None:
        return Verdict(target, "SKIP", "needs 'deep' and 'first'")
    limit = DEEP_P50_FACTOR * first.p50_ms
    answered = math.isfinite(deep.p50_ms) and math.isfinite(first.p50_ms)
    outcome = "PASS" if answered and deep.p50_ms <= limit else "FAIL"
    detail = f"{format_ms(deep.p50_ms)} vs {format_ms(first.p50_ms)}"
    if answered and first.p50_ms:
        detail += f": {deep.p50_ms / first.p50_ms:.2f}x"
    return Verdict(target, outcome, detail)


def _first_vs_reference(results: Mapping[str, WrkResult]) -> Verdict:
    target = f"first page req/s >= {FIRST_PAGE_SHARE_OF_REFERENCE:.0%} of the reference"
    first, reference = results.get("first"), results.get("reference")
    if first is None or reference is None:
        return Verdict(target, "SKIP", "needs 'first' and 'reference'")
    if not reference.requests_per_second:
        return Verdict(target, "SKIP", "the reference answered nothing")
    share = first.requests_per_second / reference.requests_per_second
    outcome = "PASS" if share >= FIRST_PAGE_SHARE_OF_REFERENCE else "FAIL"
    return Verdict(
        target,
        outcome,
        f"{first.requests_per_second:,.0f} vs {reference.requests_per_second:,.0f} req/s: "
        f"{share:.0%}",
    )


def _api_vs_json_reference(results: Mapping[str, WrkResult]) -> Verdict:
    target = f"API first page req/s >= {FIRST_PAGE_SHARE_OF_REFERENCE:.0%} of the JSON reference"
    api, reference = results.get("api_first"), results.get("reference_json")
    if api is None or reference is None or not reference.requests_per_second:
        return Verdict(target, "SKIP", "needs 'api_first' and 'reference_json'")
    share = api.requests_per_second / reference.requests_per_second
    outcome = "PASS" if share >= FIRST_PAGE_SHARE_OF_REFERENCE else "FAIL"
    detail = (
        f"{api.requests_per_second:,.0f} vs {reference.requests_per_second:,.0f} req/s: {share:.0%}"
    )
    return Verdict(target, outcome, detail)


def _api_vs_html_page(results: Mapping[str, WrkResult]) -> Verdict:
    target = "API first page req/s >= the HTML first page's"
    api, first = results.get("api_first"), results.get("first")
    if api is None or first is None:
        return Verdict(target, "SKIP", "needs 'api_first' and 'first'")
    outcome = "PASS" if api.requests_per_second >= first.requests_per_second else "FAIL"
    detail = f"{api.requests_per_second:,.0f} vs {first.requests_per_second:,.0f} req/s"
    return Verdict(target, outcome, detail)


def _max_latency(results: Mapping[str, WrkResult]) -> Verdict:
    target = "no response above 1 s (and none failed) on any URL"
    if not results:
        return Verdict(target, "SKIP", "nothing measured")
    offenders = [
        f"{name}: max {format_ms(result.max_ms)}, failed {result.failure_summary}"
        for name, result in results.items()
        if result.max_ms >= MAX_LATENCY_MS or result.failures
    ]
    if offenders:
        return Verdict(target, "FAIL", "; ".join(offenders))
    slowest = max(results, key=lambda name: results[name].max_ms)
    return Verdict(target, "PASS", f"slowest: {slowest} at {format_ms(results[slowest].max_ms)}")


def _rss(app_rss_bytes: int | None) -> Verdict:
    target = f"app RSS < {MAX_RSS_BYTES // 2**20} MB after the run"
    if app_rss_bytes is None:
        return Verdict(target, "SKIP", "the app's memory could not be read")
    outcome = "PASS" if app_rss_bytes < MAX_RSS_BYTES else "FAIL"
    return Verdict(target, outcome, format_mb(app_rss_bytes))


def results_table(results: Mapping[str, WrkResult], paths: Mapping[str, str]) -> str:
    """One markdown row per measured URL, in the order measured."""
    reference = results.get("reference")
    lines = [
        "| URL | path | req/s | vs reference | p50 | p99 | max | failed |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in results.items():
        ratio = (
            f"{result.requests_per_second / reference.requests_per_second:.2f}"
            if reference is not None and reference.requests_per_second
            else "–"
        )
        path = paths.get(name, "")
        shown_path = path if len(path) <= 60 else path[:57] + "..."
        lines.append(
            f"| {name} | `{shown_path}` | {result.requests_per_second:,.0f} | {ratio} | "
            f"{format_ms(result.p50_ms)} | {format_ms(result.p99_ms)} | "
            f"{format_ms(result.max_ms)} | {result.failure_summary} |"
        )
    return "\n".join(lines)


def render_report(
    *,
    title: str,
    settings: Sequence[str],
    results: Mapping[str, WrkResult],
    paths: Mapping[str, str],
    verdicts: Sequence[Verdict],
    memory: Mapping[str, int | None],
    notes: Sequence[str],
    exports: Sequence[ExportResult] = (),
) -> str:
    parts = [f"# {title}", "", *(f"- {line}" for line in settings), ""]
    parts += [results_table(results, paths), ""]
    parts += [
        "Memory after the run (VmRSS): "
        + ", ".join(
            f"{name} {format_mb(value) if value is not None else 'unknown'}"
            for name, value in memory.items()
        ),
        "",
    ]
    if exports:
        parts += [
            "Whole-table downloads (one client, after the load above):",
            "",
            exports_table(list(exports)),
            "",
        ]
    parts += ["Targets:", "", *(f"- {verdict.line}" for verdict in verdicts), ""]
    if notes:
        parts += ["Notes:", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(parts)


def format_ms(value: float) -> str:
    if math.isinf(value):
        return "no response"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.2f} ms"


def format_mb(value: int) -> str:
    return f"{value / 2**20:.0f} MB"
