"""A fuzz of every input the app reads, over the demo database: each route of the app's
router, with its path segments filled from the catalog, gets hostile values (NUL, bytes that
are not UTF-8, very long strings, numbers beyond every integer range) in each path segment,
each query parameter it reads, each field of its form and the request headers it looks at.
The answer is never a 5xx; a refusal is a 4xx with a page; and no table changes. Forms go
urlencoded or multipart (at random); writes carry a stale row version, an unknown user or a
date no column accepts, so that no hostile value can be legitimately written."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import database_checksum, form_token, install_small_demo
from webapp.listing.filters import operators_for
from webapp.web.appkeys import CATALOG
from webapp.web.urls import key_segment, tilde_encode

LONG = 100_000
# A request line or header over aiohttp's 8,190-byte limit is refused by the HTTP parser
# before the app sees it; URLs and headers get the longest string that still reaches it.
LONG_IN_URL = 6_000
# Hostile values as text; BAD_UTF8 is sent as the escapes or bytes it names.
BAD_UTF8 = "\udcff"
HOSTILE = (
    "a\x00b",
    BAD_UTF8,
    "x" * LONG,
    "2147483648",
    "-9223372036854775809",
    "9" * 40,
    "1e309",
    "\x01\x1b\x7f",
)
SAMPLES_PER_ROUTE = 30
# Between them every column kind of the demo (dates, times, enums, booleans, decimals,
# floats, JSON, binary, foreign keys, a composite key); customers is left out for its size.
FUZZED_TABLES = ("books", "authors", "orders", "order_items")
SEED = 20261204


@dataclass
class Target:
    """One request of the fuzz: a route with its path filled in, and where to put a value."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None


def url_text(value: str, limit: int = LONG_IN_URL) -> str:
    """A value percent-encoded for a URL; BAD_UTF8 as escapes that are not UTF-8."""
    if value == BAD_UTF8:
        return "%FF%FE"
    return quote(value[:limit], safe="")


def form_body(values: dict[str, str]) -> bytes:
    return "&".join(f"{quote(k)}={url_text(v, LONG)}" for k, v in values.items()).encode()


BOUNDARY = "fuzz-boundary"


def multipart_body(values: dict[str, str]) -> bytes:
    """The form as a browser's multipart/form-data body; BAD_UTF8 as raw bytes."""
    parts = []
    for name, value in values.items():
        data = b"\xff\xfe" if value == BAD_UTF8 else value.encode("utf-8")
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def query_string(values: dict[str, str]) -> str:
    return "&".join(f"{quote(k)}={url_text(v)}" for k, v in values.items())


async def first_keys(engine: AsyncEngine) -> dict[str, str]:
    """The URL key segment of each demo table's first row."""
    metadata = MetaData()
    keys = {}
    async with engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
        for name, table in metadata.tables.items():
            columns = list(table.primary_key.columns)
            if not columns or name.startswith("webapp_"):
                continue
            row = (await conn.execute(select(*columns).order_by(*columns).limit(1))).first()
            if row is not None:
                keys[name] = key_segment([str(value) for value in row])
    return keys


def path_values(app: web.Application, keys: dict[str, str]) -> dict[str, list[str]]:
    """Legitimate values for each path variable of the router, from the catalog."""
    catalog = app[CATALOG]
    tables = [info.name for info in catalog if info.name in FUZZED_TABLES]
    return {
        "table": [tilde_encode(name) for name in tables],
        "format": ["csv", "json"],
        "key": [keys[name] for name in tables],
        "column": [tilde_encode(catalog.tables[name].columns[-1].name) for name in tables],
        "entry": ["1"],
        "query": ["1"],
        "set": ["1"],
        "token": ["no-such-token"],
        "job": ["no-such-job"],
        "username": ["nobody"],
        "action": ["role", "disable", "enable", "password"],
    }


VARIABLE = re.compile(r"\{(\w+)(?::[^{}]*)?\}")


def concrete_paths(app: web.Application, keys: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(method, path, variable-annotated template) for every route, its variables filled
    with matching values (a table and one of its keys)."""
    values = path_values(app, keys)
    for route in app.router.routes():
        template = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or template.startswith("/static") or template == "/logout":
            continue
        for index in range(len(values["table"])):
            path = VARIABLE.sub(
                lambda match, i=index: values[match.group(1)][i % len(values[match.group(1)])],
                template,
            )
            yield route.method, path, template
            if "{" not in template:
                break


def query_parameters(app: web.Application, template: str, table: str | None) -> list[str]:
    """The query parameters a route reads; for table pages every filter the catalog offers."""
    if template in ("/t/{table}", "/t/{table}.{format}", "/api/t/{table}") and table is not None:
        info = app[CATALOG].tables[table]
        params = ["q", "sort", "size", "page", "cursor", "facets", "filter_column", "filter_op"]
        params += ["filter_value"]
        for column in info.columns:
            params += [f"{column.name}__{op}" for op in operators_for(column)]
        return params
    return {
        "/t/{table}/lookup": ["q"],
        "/activity": ["user", "table", "action", "since", "until", "before"],
        "/api/activity": ["user", "table", "action", "since", "until", "before"],
        "/login": ["next", "expired"],
    }.get(template, [])


FIELD = re.compile(r'<(?:input|textarea|select)[^>]*\bname="([^"]+)"(?:[^>]*\bvalue="([^"]*)")?')


async def form_fields(client, path: str) -> dict[str, str]:
    """The fields of the first form on the GET page of a POST route, with their values."""
    response = await client.get(path)
    body = await response.text()
    start = body.find('<form method="post"')
    if start < 0:
        start = body.find("<form")
    fields: dict[str, str] = {}
    for name, value in FIELD.findall(body[start:]):
        fields.setdefault(name, value)
    return fields


def safe_baseline(path: str, fields: dict[str, str]) -> dict[str, str]:
    """A form that cannot write anything whatever one field holds: a stale version, a date
    no date column accepts, a wrong password, an unknown user."""
    baseline = dict(fields)
    if "row_version" in baseline:
        baseline["row_version"] = "stale"
    if path == "/admin/users":
        baseline["username"] = ""
    if path == "/account/password":
        baseline["current"] = "wrong password"
    if path == "/account/tokens":
        baseline["days"] = "never"  # not a number of days: no token is made
    if path == "/login":
        baseline.update(username="nobody", password="wrong")
    return baseline


def hostile_forms(path: str, fields: dict[str, str]) -> Iterator[dict[str, str]]:
    baseline = safe_baseline(path, fields)
    if path.endswith("/new"):
        # Every field at once: the date fields never accept these, so nothing is written.
        for value in HOSTILE:
            yield {**baseline, **{n: value for n in fields if n != "csrf_token"}}
        return
    for name in fields:
        if name == "csrf_token":
            continue
        for value in HOSTILE:
            yield {**baseline, name: value}


HEADERS = (
    "Origin",
    "Referer",
    "Cookie",
    "Accept",
    "Sec-Fetch-Site",
    "X-CSRF-Token",
    "Authorization",
    "If-Match",
    "X-Query-Trace",
)
HEADER_VALUES = ("https://[", "x" * LONG_IN_URL, "\xff\xfe", "2147483648", "%FF%00")


async def check(response, what: object) -> None:
    body = await response.text(errors="replace")
    assert response.status < 500, (what, response.status, body[:500])
    if response.status >= 400 and response.url.path.startswith("/api/"):
        assert response.content_type == "application/problem+json", (what, body[:300])
        assert "Traceback" not in body
    elif response.status >= 400 and response.content_type == "application/json":
        # The in-place editor's endpoint answers its script in JSON: a sentence, no trace.
        assert response.url.path.endswith("/cell"), (what, body[:300])
        assert json.loads(body)["error"] and "Traceback" not in body, (what, body[:300])
    elif response.status >= 400:
        assert "<html" in body.lower(), (what, response.status, body[:300])
        assert "Traceback" not in body


async def test_every_input_with_hostile_values_never_5xx_nor_writes(
    engine: AsyncEngine, make_client
) -> None:
    await install_small_demo(engine)
    client = await make_client()
    app = client.server.app
    keys = await first_keys(engine)
    assert "books" in keys  # the create form is fuzzed there: its date field refuses all
    before = await database_checksum(engine)
    rng = random.Random(SEED)
    token = await form_token(client, "/")
    sent = 0
    for method, path, template in concrete_paths(app, keys):
        table_match = re.match(r"/t/([^/.]+)", path)
        table = table_match and next(
            (name for name in keys if tilde_encode(name) == table_match.group(1)), None
        )
        if method == "POST" and template == "/t/{table}/new" and table != "books":
            continue
        targets: list[Target] = []
        segments = path.split("/")
        for position, segment in enumerate(segments):
            if not segment or position == 0:
                continue
            for value in HOSTILE:
                changed = [*segments]
                changed[position] = url_text(value)
                form = {"csrf_token": token} if method == "POST" else None
                targets.append(Target(method, "/".join(changed), form=form))
        for name in query_parameters(app, template, table):
            targets += [Target(method, path, query={name: value}) for value in HOSTILE]
        if method == "POST":
            page = path if path != "/admin/users/nobody/role" else "/admin/users"
            fields = await form_fields(client, page)
            fields["csrf_token"] = token
            targets += [Target(method, path, form=form) for form in hostile_forms(path, fields)]
        if len(targets) > SAMPLES_PER_ROUTE:
            targets = rng.sample(targets, SAMPLES_PER_ROUTE)
        for target in targets:
            url = target.path + ("?" + query_string(target.query) if target.query else "")
            data, headers = None, {}
            if target.form is not None and rng.random() < 0.5:
                data = multipart_body(target.form)
                headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
            elif target.form is not None:
                data = form_body(target.form)
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
            response = await client.request(
                target.method, url, data=data, headers=headers, allow_redirects=False
            )
            await check(response, (target.method, url[:200], str(target.form)[:200]))
            sent += 1

    api_paths = (("/api/t/books", "GET"), ("/api/t/books", "POST"), ("/api/t/books/r/1", "PATCH"))
    for path, method in (("/t/books", "GET"), ("/", "GET"), ("/login", "POST"), *api_paths):
        for header in HEADERS:
            for value in HEADER_VALUES:
                response = await client.request(
                    method,
                    path,
                    headers={header: value},
                    data=form_body({"csrf_token": token, "username": "nobody", "password": "x"}),
                    allow_redirects=False,
                )
                await check(response, (method, path, header, value[:40]))
                sent += 1

    anonymous = await make_client(role=None)
    for value in HOSTILE:
        for url in (f"/login?next={url_text(value)}", f"/t/{url_text(value)}"):
            await check(await anonymous.get(url, allow_redirects=False), url[:100])
        body = form_body({"csrf_token": "x", "username": value, "password": value})
        response = await anonymous.post(
            "/login", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        await check(response, ("anonymous login", value[:40]))
        sent += 3
    assert sent > 300
    assert await database_checksum(engine) == before


async def test_api_bodies_with_hostile_values_never_5xx_nor_write(
    engine: AsyncEngine, make_client
) -> None:
    """Each column of a JSON body, on create and change, holding hostile JSON values: a 4xx
    problem, never a 5xx, and nothing written (a create also sends a date no column
    accepts; a change a stale If-Match)."""
    await install_small_demo(engine)
    client = await make_client()
    keys = await first_keys(engine)
    before = await database_checksum(engine)
    token = await form_token(client, "/")
    headers = {"X-CSRF-Token": token}
    info = client.server.app[CATALOG].tables["books"]
    names = [column.name for column in info.columns]
    values: list[object] = [*HOSTILE, None, True, -(2**70), 1.5e308, [1, {"a": None}], {"x": 1}]
    record = f"/api/t/books/r/{keys['books']}"
    sent = 0
    for name in names:
        for value in values:
            body = {"published_on": "not a date", name: value}
            if name == "published_on":
                body["title"] = None  # NOT NULL: refused whatever the date holds
            response = await client.post("/api/t/books", json=body, headers=headers)
            await check(response, ("POST", name, str(value)[:40]))
            stale = {**headers, "If-Match": '"stale"'}
            response = await client.patch(record, json={name: value}, headers=stale)
            await check(response, ("PATCH", name, str(value)[:40]))
            sent += 2
    for raw in (b"\xff\xfe", b"[" * 10_000, b'{"a": 1e999999}', b"nul\x00l", b'{"\ud800": 1}'):
        response = await client.post(
            "/api/t/books", data=raw, headers={**headers, "Content-Type": "application/json"}
        )
        await check(response, ("POST raw", raw[:20]))
        sent += 1
    assert sent > 100
    assert await database_checksum(engine) == before
