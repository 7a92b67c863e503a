"""What the tests share besides fixtures: test users and signing in, forms as a browser
submits them, the command line in-process and as a subprocess, checksums that prove nothing
was written, and small datasets more than one module uses. Test modules import from here,
never from conftest or from one another."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.demo import DemoSize, install_demo
from webapp.settings import AuthSettings, PasswordHashSettings
from webapp.web.appkeys import ACCOUNTS

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


def backends_under_test() -> list[str]:
    """SQLite always; a server backend when its URL is set."""
    return ["sqlite"] + [
        name for name, variable in SERVER_URL_VARIABLES.items() if os.environ.get(variable)
    ]


def backends_left_out() -> list[str]:
    return [
        f"{name} ({variable} is not set)"
        for name, variable in SERVER_URL_VARIABLES.items()
        if not os.environ.get(variable)
    ]


# --- users and signing in -----------------------------------------------------------------------


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
    """Sign `client` in as the test user of `role` (made first if the database lacks it:
    apps that share a database share their users)."""
    app = client.server.app
    username = f"test-{role}"
    existing = {user.username for user in await app[ACCOUNTS].list_users()}
    if username not in existing:
        await add_test_user(app, role, username)
    response = await sign_in_as(client, username)
    assert response.status == 303, await response.text()
    return client


# --- forms as a browser sees and submits them; a browser that starts signed in ---------------


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


# --- reading pages ------------------------------------------------------------------------------


def page_ids(body: str, table: str = "items") -> list[int]:
    """The integer keys of the rows a table page lists, in order."""
    return [
        int(k) for k in re.findall(rf'<td class="(?:\w+ )?pk"><a href="/t/{table}/r/(\d+)"', body)
    ]


def link(body: str, rel: str) -> str | None:
    """The URL of the page's link with this `rel` ("next", "prev"), or None."""
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', body)
    return found.group(1).replace("&amp;", "&") if found else None


async def walk(client, start: str, rel: str, table: str = "items") -> list[list[int]]:
    """The record ids of each page, following `rel` ("next" or "prev") links from `start`."""
    pages = []
    href: str | None = start
    while href is not None:
        response = await client.get(href)
        assert response.status == 200, await response.text()
        body = await response.text()
        pages.append(page_ids(body, table))
        href = link(body, rel)
        assert len(pages) < 100
    return pages


# --- the command line ---------------------------------------------------------------------------


@dataclass
class CliResult:
    """What a run of the command line gave: the fields of `subprocess.CompletedProcess`
    that the tests read."""

    returncode: int
    stdout: str
    stderr: str


_CLI_LOCK = threading.Lock()


def run_main(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> CliResult:
    """`webapp.__main__.main(args)` in this process, as `run_webapp` runs it in a new one:
    none of this environment's WEBAPP_ variables, only `env`; `stdin` as its standard input.
    From an async test it runs in a thread of its own, where its `asyncio.run` can start a
    loop; from a sync test in this thread, where `web.run_app` can set signal handlers."""
    from webapp.__main__ import main

    environment = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
    environment.update(env or {})
    out, err = io.StringIO(), io.StringIO()
    outcome: list[int] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(main(list(args)))
        except SystemExit as exc:
            code = exc.code
            outcome.append(code if isinstance(code, int) else (0 if code is None else 1))
        except BaseException as exc:
            failure.append(exc)

    with (
        _CLI_LOCK,
        _environment(environment),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _standard_input(stdin),
    ):
        if _loop_running():
            thread = threading.Thread(target=target, name="webapp-cli")
            thread.start()
            thread.join(timeout=60)
            assert not thread.is_alive(), f"webapp {' '.join(args)} did not finish in 60 s"
        else:
            target()
    if failure:
        raise failure[0]
    return CliResult(outcome[0], out.getvalue(), err.getvalue())


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def _environment(environment: dict[str, str]):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _standard_input(content: str):
    saved = sys.stdin
    sys.stdin = io.StringIO(content)
    try:
        yield
    finally:
        sys.stdin = saved


def run_webapp(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`python -m webapp ARGS` from the repository, as a user's shell would run it: none of
    this environment's WEBAPP_ variables, only `env`; `stdin` as its standard input. Kept for
    the few smoke tests of the real entry point; the rest use `run_main`."""
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


def write_config(tmp_path: Path, body: str) -> Path:
    """`body` as tmp_path/config.yaml."""
    path = tmp_path / "config.yaml"
    path.write_text(body, encoding="utf-8")
    return path


# --- databases: arranging, proving nothing changed, dropping connections ------------------------

DEMO_ORDERS = 60
# The demo's shape (every table, type and view) with fewer rows, for tests that do not count
# them.
SMALL_DEMO = DemoSize(authors=40, books=120, customers=60)


async def install_small_demo(engine: AsyncEngine) -> None:
    assert await install_demo(engine, orders=DEMO_ORDERS, size=SMALL_DEMO) is True


async def database_checksum(engine: AsyncEngine) -> dict[str, str]:
    """A digest of every row of every table (the app's own tables included, except the
    sign-in failures a wrong password is meant to record and the SQL console's record of
    the statements it was sent), in key order."""
    metadata = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
        digests = {}
        for name, table in sorted(metadata.tables.items()):
            if name.endswith(("login_failures", "sql_runs")):
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = (await conn.execute(select(table).order_by(*order))).all()
            digests[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def assert_refusal_page(status: int, body: str, expected_status: int, message: str) -> None:
    """A refusal with its status and a page that says why (never a traceback)."""
    assert status == expected_status, body[:500]
    assert "<html" in body.lower(), body[:500]
    assert message in body, body[:2000]
    assert "Traceback" not in body


async def install_a_malformed_date(engine: AsyncEngine, backend: str) -> None:
    """`events`: row 1 good, row 2 with 'not a date' in its DATETIME (SQLite only)."""
    if backend != "sqlite":
        pytest.skip("only SQLite stores a malformed DATETIME")
    metadata = MetaData()
    events = Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("at", DateTime),
        Column("label", Text),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(events), [{"id": 1, "at": None, "label": "good row"}])
        await conn.execute(text("INSERT INTO events VALUES (2, 'not a date', 'bad row')"))


async def drop_server_connections(engine: AsyncEngine, backend: str) -> None:
    """End, from the server side, every connection to the test database but this one: what a
    database restart does to the app's pool."""
    async with engine.connect() as conn:
        if backend == "mysql":
            ids = await conn.scalars(
                text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            )
            for connection_id in list(ids):
                await conn.execute(text(f"KILL CONNECTION {int(connection_id)}"))
        else:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )


# Per-role rules over the find_fixtures schema: the viewer loses two columns of `items` and
# all of `owners`; the editor loses one column and may not change another, nor `owners`.
ROLE_RULES: dict[str, Any] = {
    "items": {
        "roles": {
            "viewer": {"hidden_columns": ["secret", "note"]},
            "editor": {"hidden_columns": ["secret"], "read_only_columns": ["price"]},
        }
    },
    "owners": {"roles": {"viewer": {"hidden": True}, "editor": {"read_only": True}}},
}


# --- change sets: the table bulk changes are made on, and what the log holds -------------------


def orders_table(metadata: MetaData) -> Table:
    """`orders` as the bulk-change tests make it, with a check that a later batch meets."""
    return Table(
        "orders",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("status", String(20), nullable=False),
        Column("amount", Integer, nullable=False),
        Column("note", String(50), nullable=True),
        # A closed order may not be large: the bulk change meets it late, in a later batch.
        CheckConstraint("status <> 'closed' OR amount < 1000", name="small_closed"),
    )


async def table_rows(engine: AsyncEngine, table: Table) -> dict[int, tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(table).order_by(table.c.id))
        return {row.id: tuple(row) for row in rows}


async def log_rows(engine: AsyncEngine, name: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT * FROM webapp_{name} ORDER BY id"))
        return [dict(row._mapping) for row in rows]
