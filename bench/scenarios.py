"""What the benchmark requests: every URL in one place, how to reach a page 20,000 pages
deep, and how the benchmark gets in (request headers)."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import aiohttp

TABLE = "records"
PAGE_SIZE = 50  # the app's default page size, and the reference's page
WALK_PAGE_SIZE = 500  # the deep walk follows Next with this many rows a page
FILTER_STATUS = "pending"  # 20% of the rows
SEARCH_WORD = "lindqvist"  # a surname in 1% of names and emails
# In no name or email, and too short for the FULLTEXT index: the search reads the rows
# themselves (a LIKE scan), a chunk of keys per request (pages.search_chunk_rows).
NO_MATCH_WORD = "zq"
FRESH_SEARCH_SCRIPT = "fresh_search.lua"  # in bench/: a new word appended on each request


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "reference" or "app"
    path: str  # "{deep}" is found by walking; "{record_id}" is the middle record
    about: str
    connections: int | None = None  # wrk's connections; None: the run's (--connections)
    rounds: int = 1  # measured this many times, the round of median p50 reported
    script: str | None = None  # a wrk Lua script in bench/ that makes each request's URL


SCENARIOS = (
    Scenario("reference", "reference", "/", "bare aiohttp + aiomysql + Jinja2, first 50 rows"),
    # The deep page is judged against the first: both by the median of several rounds, so
    # that one round disturbed by other work on the machine does not decide the verdict.
    Scenario("first", "app", f"/t/{TABLE}", "table page, first page", rounds=3),
    Scenario("deep", "app", "{deep}", "table page ~20,000 pages of 50 deep", rounds=3),
    Scenario(
        "filtered",
        "app",
        f"/t/{TABLE}?status__exact={FILTER_STATUS}&sort=-created_at",
        "filtered + sorted page",
    ),
    Scenario("search", "app", f"/t/{TABLE}?q={SEARCH_WORD}", "search"),
    Scenario(
        "search_nomatch",
        "app",
        f"/t/{TABLE}?q={NO_MATCH_WORD}",
        "search no index answers, matching nothing (the same words each time)",
    ),
    Scenario(
        "search_fresh",
        "app",
        f"/t/{TABLE}?q={NO_MATCH_WORD}",
        "search no index answers, matching nothing, new words on every request, 4 at once",
        # Each reads a chunk in a slot of the pool's expensive share (half the pool): 32 at
        # once queue for those slots, so a few at once is the answer time a user sees.
        connections=4,
        script=FRESH_SEARCH_SCRIPT,
    ),
    Scenario("record", "app", f"/t/{TABLE}/r/{{record_id}}", "record page"),
    Scenario(
        "reference_record",
        "reference",
        "/r/{record_id}",
        "bare aiohttp + aiomysql + Jinja2, the record with its label and referencing counts",
    ),
    # Page 1 alone (one connection), of the big table and of two small ones of its shape.
    Scenario("first_alone", "app", f"/t/{TABLE}", "table page, first page, alone", 1),
    Scenario("first_10k", "app", f"/t/{TABLE}_10k", "10,000-row table, first page, alone", 1),
    Scenario("first_1k", "app", f"/t/{TABLE}_1k", "1,000-row table, first page, alone", 1),
    Scenario(
        "reference_json",
        "reference",
        "/json",
        "bare aiohttp + aiomysql + json.dumps, first 50 rows",
    ),
    Scenario("api_first", "app", f"/api/t/{TABLE}", "JSON API, first page"),
    Scenario("api_deep", "app", "{api_deep}", "JSON API, the deep page's cursor"),
)
SCENARIO_NAMES = tuple(scenario.name for scenario in SCENARIOS)


BENCH_USER = "bench"
BENCH_PASSWORD = "bench password 1"  # a local throwaway account in the benchmark database


def app_request_headers(base_url: str) -> dict[str, str]:
    """The headers every request to the app carries: the session cookie of the benchmark's
    viewer account (made by `ensure_bench_user`), got by signing in through /login like a
    browser. wrk and the deep walk both use this."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    with opener.open(base_url + "/login", timeout=30) as response:
        page = response.read().decode("utf-8")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if match is None:
        raise RuntimeError("sign-in: the login page has no form token")
    body = urlencode(
        {"csrf_token": match.group(1), "username": BENCH_USER, "password": BENCH_PASSWORD}
    ).encode()
    try:
        opener.open(base_url + "/login", data=body, timeout=30)
    except urllib.error.HTTPError as exc:
        if exc.code != 303:
            raise RuntimeError(f"sign-in as {BENCH_USER!r} answered {exc.code}") from None
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)
    return {"Cookie": cookies} if cookies else {}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def record_id(rows: int) -> int:
    """A record in the middle of the table."""
    return rows // 2


def walk_steps(rows: int) -> int:
    """How many Next links of WALK_PAGE_SIZE rows reach the last full walk page:
    1,999 for a million rows (row 999,501 on)."""
    return max(rows // WALK_PAGE_SIZE - 1, 0)


def offset_deep_path(rows: int) -> str:
    """The fallback for an app without cursors: the last page by number (20,000)."""
    return f"/t/{TABLE}?page={max(rows // PAGE_SIZE, 1)}"


class _NextLinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        rel = (values.get("rel") or "").split()
        if self.href is None and tag in ("a", "link") and "next" in rel and values.get("href"):
            self.href = values["href"]


def next_link(html: str) -> str | None:
    """The href of the page's first rel="next" link, unescaped, or None."""
    finder = _NextLinkFinder()
    finder.feed(html)
    finder.close()
    return finder.href


def with_query(url: str, **changes: str | int) -> str:
    """`url` with some query parameters replaced (or added), the rest kept in order."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({name: str(value) for name, value in changes.items()})
    return urlunsplit(parts._replace(query=urlencode(query)))


def uses_cursor(href: str) -> bool:
    """Whether a Next link pages by something other than a page number: the app's keyset
    cursor, whatever its parameter is called."""
    names = {name for name, _ in parse_qsl(urlsplit(href).query, keep_blank_values=True)}
    return bool(names - {"page", "size", "sort"})


@dataclass(frozen=True)
class DeepPage:
    path: str
    by_cursor: bool
    note: str


async def find_deep_page(
    base_url: str, rows: int, headers: Mapping[str, str], say: Callable[[str], None] = print
) -> DeepPage:
    """Walk Next links from the first page (WALK_PAGE_SIZE rows each) to ~row rows-500 and
    take that link with PAGE_SIZE rows; an app whose Next link has no cursor gets
    offset_deep_path instead."""
    steps = walk_steps(rows)
    path = with_query(f"/t/{TABLE}", size=WALK_PAGE_SIZE)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base_url, headers=dict(headers), timeout=timeout) as http:
        for step in range(steps):
            async with http.get(path, allow_redirects=False) as response:
                if response.status != 200:
                    raise RuntimeError(f"deep walk: GET {path} answered {response.status}")
                html = await response.text()
            href = next_link(html)
            if href is None:
                raise RuntimeError(f"deep walk: {path} has no rel=next link (step {step + 1})")
            if not uses_cursor(href):
                fallback = offset_deep_path(rows)
                return DeepPage(
                    fallback,
                    False,
                    f"the app's Next link has no cursor ({href}); measured {fallback} "
                    "(OFFSET paging) instead",
                )
            path = with_query(urljoin(path, href), size=WALK_PAGE_SIZE)  # keep 500 a page
            if (step + 1) % 250 == 0:
                say(f"deep:   {step + 1:,} of {steps:,} pages walked")
    return DeepPage(
        with_query(path, size=PAGE_SIZE),
        True,
        f"reached by following rel=next {steps:,} times at size={WALK_PAGE_SIZE}, "
        f"then size={PAGE_SIZE}",
    )


async def probe_features(base_url: str, headers: Mapping[str, str]) -> dict[str, str]:
    """Notes, by scenario name, on what the running app does not do yet, so that a
    pre-merge run says which URLs measured something else (an app without the feature
    ignores the unknown query parameter)."""
    notes = {}
    async with aiohttp.ClientSession(base_url, headers=dict(headers)) as http:
        await check_answers_200(base_url, f"/t/{TABLE}", headers)
        async with http.get(f"/t/{TABLE}?no_such_column__exact=1") as response:
            if response.status == 200:
                notes["filtered"] = (
                    "filtered: the app ignores ?column__op= (no filter support yet), so this "
                    "measured the sorted page unfiltered"
                )
        async with http.get(f"/t/{TABLE}") as response:
            html = await response.text()
        if 'name="q"' not in html:
            notes["search"] = (
                'search: the table page has no search box (name="q"), so this measured '
                "the first page with an ignored ?q="
            )
    return notes


class NotAnswering(RuntimeError):
    """A URL to measure does not answer 200 by itself."""


LOGIN_STATUSES = (301, 302, 303, 307, 308, 401, 403)


async def check_answers_200(base_url: str, path: str, headers: Mapping[str, str]) -> None:
    """Refuse to measure a URL that does not answer 200 by itself: wrk counts a redirect
    (to a login page, say) as a success and would time the wrong page. A redirect, 401 or
    403 raises RuntimeError (nothing of the app can be measured); any other status raises
    NotAnswering (this URL needs fixing in SCENARIOS; the others can still be measured)."""
    async with (
        aiohttp.ClientSession(base_url, headers=dict(headers)) as http,
        http.get(path, allow_redirects=False) as response,
    ):
        if response.status == 200:
            return
        where = response.headers.get("Location")
        message = f"GET {path} answered {response.status}" + (f" (to {where})" if where else "")
        if response.status in LOGIN_STATUSES:
            raise RuntimeError(
                f"{message}; does the app want a login? fill in app_request_headers() in "
                "bench/scenarios.py"
            )
        raise NotAnswering(f"{message}; adjust its URL in SCENARIOS (bench/scenarios.py)")
