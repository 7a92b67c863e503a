"""Backend fixtures: one suite runs on SQLite always, and on MariaDB and PostgreSQL when
WEBAPP_TEST_MYSQL_URL / WEBAPP_TEST_POSTGRES_URL name a server. Each test gets a database of
its own, created fresh and dropped afterwards."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.fault_proxy import FaultProxy
from webapp.app import create_app
from webapp.settings import AuthSettings, PasswordHashSettings, settings_for_url
from webapp.web.appkeys import ACCOUNTS, SETTINGS

REPO = Path(__file__).resolve().parent.parent

TEST_PASSWORD = "correct horse battery"
# Cheap Argon2id parameters, so that signing in does not dominate the suite's time.
FAST_HASHING = AuthSettings(
    password_hash=PasswordHashSettings(time_cost=1, memory_kib=64, parallelism=1)
)

SERVER_URL_VARIABLES = {
    "mysql": "WEBAPP_TEST_MYSQL_URL",
    "postgresql": "WEBAPP_TEST_POSTGRES_URL",
}


def backend_params() -> list:
    """SQLite always; the server backends are skipped (visibly) when their URL is unset."""
    params = [pytest.param("sqlite", id="sqlite")]
    for name, variable in SERVER_URL_VARIABLES.items():
        marks = []
        if not os.environ.get(variable):
            marks.append(pytest.mark.skip(reason=f"{variable} is not set"))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty database of its own on the requested backend."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    server_url = make_url(os.environ[SERVER_URL_VARIABLES[backend]])
    name = f"webapp_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            if backend == "mysql":
                await conn.execute(
                    text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                )
            else:
                await conn.execute(
                    text(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
                )
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            if backend == "mysql":
                await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            else:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


@pytest.fixture
async def fault_proxy(db_url: str, backend: str) -> AsyncIterator[FaultProxy]:
    """A FaultProxy in front of the test database's server (MySQL and PostgreSQL; SQLite
    has no server and is skipped). `fault_proxy.url_for(make_url(db_url))` reaches the test
    database through it."""
    if backend == "sqlite":
        pytest.skip("an embedded database has no connection to put faults on")
    url = make_url(db_url)
    default_port = 3306 if backend == "mysql" else 5432
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or default_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's own database, for arranging data and checking results."""
    eng = create_async_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


async def form_token(client, path: str = "/login") -> str:
    """The CSRF token of the form on `path`."""
    body = await (await client.get(path)).text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', body)
    assert match, f"no form token on {path}"
    return match.group(1)


async def sign_in_as(client, username: str, password: str = TEST_PASSWORD):
    """Sign the client in through the login form; return the response (not followed)."""
    token = await form_token(client)
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": "/"},
        allow_redirects=False,
    )


async def add_test_user(app: web.Application, role: str, username: str | None = None) -> str:
    """A user created straight in the test database; returns its name."""
    username = username or role
    await app[ACCOUNTS].add_user(username, role, TEST_PASSWORD)
    return username


async def signed_in_client(client, role: str):
    app = client.server.app
    username = await add_test_user(app, role, f"test-{role}")
    response = await sign_in_as(client, username)
    assert response.status == 303, await response.text()
    return client


@pytest.fixture
def aiohttp_client(aiohttp_client):
    """pytest-aiohttp's client, signed in as an admin when given this app (`role=None` for
    an anonymous one, or another role), so that tests of pages need not care about login."""

    async def make(app, *args, role: str | None = "admin", **kwargs):
        client = await aiohttp_client(app, *args, **kwargs)
        if role is not None and isinstance(app, web.Application) and SETTINGS in app:
            await signed_in_client(client, role)
        return client

    return make


@pytest.fixture
def make_client(aiohttp_client, db_url: str):
    """Start the app on the test's database (arrange tables first: the catalog is reflected
    at startup) and return a test client signed in as an admin (`role=None`: anonymous;
    or "viewer", "editor"); `changes` override Settings fields."""

    async def make(*, role: str | None = "admin", **changes):
        changes.setdefault("auth", FAST_HASHING)
        settings = settings_for_url(db_url, **changes)
        return await aiohttp_client(create_app(settings), role=role)

    # The plain client, for tests that build their own app.
    make.__wrapped_aiohttp_client__ = aiohttp_client  # type: ignore[attr-defined]
    return make


# --- forms as a browser sees and submits them -------------------------------------------------


class BrowserForm:
    """A form parsed from a page the way a browser would submit it: textarea content loses
    its first newline and has its line breaks sent as CRLF, one-line inputs lose theirs,
    unchecked boxes are not sent, a file input with no file sends an empty part."""

    def __init__(self, action: str, fields: list[list], labels: dict[str, str]) -> None:
        self.action = action
        self.fields = fields  # [name, value, kind]
        self.labels = labels  # column name -> form field name

    def name(self, column: str) -> str:
        return self.labels[column]

    def value(self, column: str):
        name = self.name(column)
        return next(field[1] for field in self.fields if field[0] == name)

    def field(self, name: str):
        return next(field[1] for field in self.fields if field[0] == name)

    def set(self, column: str, value) -> None:
        """Type into a field (or choose a file: bytes); unticks its NULL/default boxes as
        the page's script would."""
        name = self.name(column)
        for field in self.fields:
            if field[0] == name:
                field[1] = value
        self.untick(column)

    def tick(self, column: str, box: str = "null") -> None:
        self.fields.append([f"{self.name(column)}:{box}", "1", "checkbox"])

    def untick(self, column: str, box: str | None = None) -> None:
        boxes = [box] if box else ["null", "default"]
        names = {f"{self.name(column)}:{b}" for b in boxes}
        self.fields = [field for field in self.fields if field[0] not in names]

    def is_ticked(self, column: str, box: str = "null") -> bool:
        return any(field[0] == f"{self.name(column)}:{box}" for field in self.fields)

    def data(self):
        from aiohttp import FormData

        form = FormData(default_to_multipart=True)
        for name, value, kind in self.fields:
            if kind == "file":
                content = value if isinstance(value, bytes) else b""
                filename = "upload.bin" if isinstance(value, bytes) else ""
                form.add_field(
                    name, content, filename=filename, content_type="application/octet-stream"
                )
            elif kind == "textarea":
                form.add_field(name, value.replace("\r\n", "\n").replace("\n", "\r\n"))
            else:
                form.add_field(name, value)
        return form

    async def submit(self, client, **headers):
        return await client.post(
            self.action, data=self.data(), headers=headers, allow_redirects=False
        )


def parse_form(html: str) -> BrowserForm:
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.action = ""
            self.fields: list[list] = []
            self.labels: dict[str, str] = {}
            self.in_form = False
            self.label_for: str | None = None
            self.label_text = ""
            self.select: list | None = None
            self.option: dict | None = None
            self.textarea: list | None = None

        def handle_starttag(self, tag, attrs):
            a = {k: (v if v is not None else "") for k, v in attrs}
            if tag == "form" and a.get("method") == "post":
                self.in_form = True
                self.action = a.get("action", "")
            if not self.in_form:
                return
            if tag == "label" and "for" in a:
                self.label_for, self.label_text = a["for"], ""
            elif tag in ("span", "abbr") and self.label_for is not None:
                self._close_label()
            elif tag == "input" and "name" in a:
                kind = a.get("type", "text")
                if kind == "checkbox":
                    if "checked" in a:
                        self.fields.append([a["name"], a.get("value", "on"), kind])
                elif kind == "file":
                    self.fields.append([a["name"], None, "file"])
                else:
                    value = a.get("value", "").replace("\r", "").replace("\n", "")
                    self.fields.append([a["name"], value, kind])
            elif tag == "select":
                self.select = [a["name"], None, None]
            elif tag == "option" and self.select is not None:
                self.option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            elif tag == "textarea":
                self.textarea = [a["name"], ""]

        def handle_data(self, data):
            if self.label_for is not None:
                self.label_text += data
            if self.option is not None:
                self.option["text"] += data
            if self.textarea is not None:
                self.textarea[1] += data

        def _close_label(self) -> None:
            if self.label_for is not None:
                self.labels[self.label_text.strip()] = self.label_for
            self.label_for = None

        def handle_endtag(self, tag):
            if tag == "label":
                self._close_label()
            elif tag == "option" and self.option is not None and self.select is not None:
                value = self.option["value"]
                value = self.option["text"] if value is None else value
                if self.select[1] is None:
                    self.select[1] = value
                if self.option["selected"] and self.select[2] is None:
                    self.select[2] = value
                self.option = None
            elif tag == "select" and self.select is not None:
                name, first, chosen = self.select
                self.fields.append([name, chosen if chosen is not None else first, "select"])
                self.select = None
            elif tag == "textarea" and self.textarea is not None:
                name, text = self.textarea
                text = text.replace("\r\n", "\n").replace("\r", "\n")
                if text.startswith("\n"):
                    text = text[1:]
                self.fields.append([name, text, "textarea"])
                self.textarea = None
            elif tag == "form":
                self.in_form = False

    parser = Parser()
    parser.feed(html)
    return BrowserForm(parser.action, parser.fields, parser.labels)


@pytest.fixture
def open_form():
    """GET a page with a form (which also gives the session its CSRF token) and return the
    form as a browser would submit it."""

    async def open_(client, url: str) -> BrowserForm:
        response = await client.get(url)
        assert response.status == 200, (url, response.status, await response.text())
        return parse_form(await response.text())

    return open_


def browser_cookies(client) -> list[dict[str, str]]:
    """The test client's cookies (its signed-in session) in Playwright's form, so a browser
    context starts signed in as the same user."""
    base = str(client.make_url("/"))
    return [
        {"name": cookie.key, "value": cookie.value, "url": base}
        for cookie in client.session.cookie_jar
    ]


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium for the browser tests, or a skip; in CI (CI set) a missing browser
    is a failure."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing")
    return CHROMIUM


def run_webapp(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`python -m webapp ARGS` from the repository, as a user's shell would run it: none of
    this environment's WEBAPP_ variables, only `env`; `stdin` as its standard input."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "webapp", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=environment,
        check=False,
    )
