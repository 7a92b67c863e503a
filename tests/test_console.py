"""The SQL console on every backend: whatever a statement tries, the database refuses every
change (and the data stays as it was); results, downloads, runs, saved queries, roles."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.helpers import SERVER_URL_VARIABLES, form_token
from webapp.accounts.store import UserState
from webapp.console import store
from webapp.settings import RoleRules, SqlSettings, TableOptions
from webapp.web.appkeys import ACCOUNTS

READER_PASSWORD = "reader password 1"


async def arrange(engine: AsyncEngine, backend: str) -> None:
    key = "SERIAL PRIMARY KEY" if backend == "postgresql" else "INTEGER PRIMARY KEY"
    async with engine.begin() as conn:
        await conn.execute(
            text(f"CREATE TABLE books (id {key}, title VARCHAR(50), price DECIMAL(8,2))")
        )
        await conn.execute(
            text(
                "INSERT INTO books (id, title, price) VALUES "
                "(1, 'Dune', 9.50), (2, 'Emma', 5.25), (3, 'Ulysses', NULL)"
            )
        )


async def snapshot(engine: AsyncEngine) -> list[tuple]:
    """The books and the database's tables (the app's own aside): what must not change."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, title, price FROM books ORDER BY id"))).all()
        names = await conn.run_sync(lambda sync: sorted(sync.dialect.get_table_names(sync)))
    return [tuple(row) for row in rows] + [
        tuple(name for name in names if not name.startswith("webapp_"))
    ]


@pytest.fixture
async def reader_url(backend: str, db_url: str) -> AsyncIterator[str | None]:
    """A database account that may only read the test database (MySQL, PostgreSQL), made
    for the test and dropped after it; None on SQLite."""
    if backend == "sqlite":
        yield None
        return
    server_url = make_url(os.environ[SERVER_URL_VARIABLES[backend]])
    database = make_url(db_url).database
    name = f"webapp_reader_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(make_url(db_url), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        if backend == "mysql":
            await conn.execute(text(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{READER_PASSWORD}'"))
            await conn.execute(text(f"GRANT SELECT ON `{database}`.* TO '{name}'@'%'"))
        else:
            await conn.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD '{READER_PASSWORD}'"))
            await conn.execute(text(f"GRANT CONNECT ON DATABASE {database} TO {name}"))
            await conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {name}"))
            await conn.execute(
                text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {name}")
            )
    try:
        yield server_url.set(
            username=name, password=READER_PASSWORD, database=database
        ).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            if backend == "mysql":
                await conn.execute(text(f"DROP USER IF EXISTS '{name}'@'%'"))
            else:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"
                    ),
                    {"n": name},
                )
                await conn.execute(text(f"DROP OWNED BY {name}"))
                await conn.execute(text(f"DROP ROLE IF EXISTS {name}"))
        await admin.dispose()


async def start(make_client, reader: str | None = None, role: str = "admin", **sql):  # type: ignore[no-untyped-def]
    settings = SqlSettings(
        time_limit=sql.pop("time_limit", 1.0),
        database_url=make_url(reader) if reader else None,
        **sql,
    )
    client = await make_client(role=role, sql=settings)
    return client, await form_token(client, "/sql") if role == "admin" else None


async def run(client, token: str, sql: str, action: str = "run", **params: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": token, "sql": sql, "action": action}
    data.update({f"p:{name}": value for name, value in params.items()})
    response = await client.post("/sql", data=data)
    return response.status, await response.text()


def result_table(html: str) -> list[list[str]]:
    """The result grid's cells as text."""
    section = html.split('<section class="result"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
        for row in rows
    ]


def refusal(html: str) -> str:
    match = re.search(r'<p class="errors" role="alert">(.*?)</p>', html, re.S)
    assert match, html[:2000]
    return match.group(1)


def attacks(backend: str) -> list[str]:
    """Statements that try to change something; each must be refused by the database."""
    common = [
        "INSERT INTO books (id, title) VALUES (9, 'new')",
        "UPDATE books SET title = 'changed'",
        "DELETE FROM books",
        "CREATE TABLE intruder (id INTEGER)",
        "DROP TABLE books",
        "SELECT 1; DELETE FROM books",
        "DELETE FROM books; SELECT 1",
    ]
    if backend == "postgresql":
        return [
            *common,
            "SELECT * FROM books FOR UPDATE",
            "WITH gone AS (DELETE FROM books RETURNING *) SELECT * FROM gone",
            "SELECT nextval('books_id_seq')",
            "SELECT add_book()",
            "TRUNCATE books",
            "ALTER TABLE books ADD COLUMN extra INTEGER",
        ]
    if backend == "mysql":
        return [
            *common,
            "SELECT * FROM books FOR UPDATE",
            "TRUNCATE books",
            "ALTER TABLE books ADD COLUMN extra INTEGER",
            "CREATE TEMPORARY TABLE scratch (id INTEGER)",
            "SELECT add_book()",
            "REPLACE INTO books (id, title) VALUES (1, 'replaced')",
        ]
    return [
        *common,
        "WITH x AS (SELECT 1) DELETE FROM books",
        "ATTACH DATABASE ':memory:' AS other",
        "ATTACH DATABASE 'file:elsewhere.db?mode=rwc' AS other",
        "VACUUM",
        "REINDEX",
        "PRAGMA user_version = 7",
    ]


async def add_writing_function(engine: AsyncEngine, backend: str) -> None:
    """A function that writes when called, so calling it from a SELECT must be refused."""
    async with engine.begin() as conn:
        if backend == "postgresql":
            await conn.execute(
                text(
                    "CREATE FUNCTION add_book() RETURNS integer LANGUAGE sql AS "
                    "$$ INSERT INTO books (id, title) VALUES (99, 'sneaky') RETURNING id $$"
                )
            )
        elif backend == "mysql":
            await conn.execute(
                text(
                    "CREATE FUNCTION add_book() RETURNS INTEGER MODIFIES SQL DATA "
                    "BEGIN INSERT INTO books (id, title) VALUES (99, 'sneaky'); RETURN 1; END"
                )
            )


@pytest.mark.parametrize("as_reader", [False, True], ids=["app-account", "reader-account"])
async def test_every_write_attempt_is_refused_by_the_database_and_changes_nothing(
    make_client, engine: AsyncEngine, backend: str, reader_url: str | None, as_reader: bool
) -> None:
    if as_reader and reader_url is None:
        pytest.skip("SQLite has no accounts")
    await arrange(engine, backend)
    await add_writing_function(engine, backend)
    before = await snapshot(engine)
    client, token = await start(make_client, reader_url if as_reader else None)
    for sql in attacks(backend):
        status, html = await run(client, token, sql)
        assert status == 400, (sql, html[:3000])
        assert refusal(html), sql
        assert await snapshot(engine) == before, sql
    if backend == "sqlite":
        # A statement may switch query_only off for itself; the file stays read-only, and
        # the next run switches it on again.
        assert (await run(client, token, "PRAGMA query_only = OFF"))[0] == 200
        assert (await run(client, token, "DELETE FROM books"))[0] == 400
        assert await snapshot(engine) == before
    # The connection is still read-only afterwards, and still reads.
    status, html = await run(client, token, "SELECT title FROM books ORDER BY id")
    assert status == 200
    assert [row[0] for row in result_table(html)[1:]] == ["Dune", "Emma", "Ulysses"]


async def test_server_level_statements_are_refused_for_a_reader_account(
    make_client, engine: AsyncEngine, backend: str, reader_url: str | None
) -> None:
    """What a read-only transaction alone does not stop (server settings, files, programs)
    is refused by the privileges of the reader account sql.database_url names."""
    if reader_url is None:
        pytest.skip("SQLite has no server")
    await arrange(engine, backend)
    before = await snapshot(engine)
    client, token = await start(make_client, reader_url)
    if backend == "mysql":
        attempts = [
            "SET GLOBAL max_connections = @@global.max_connections",
            "LOAD DATA INFILE '/etc/hostname' INTO TABLE books",
            "SELECT * FROM books INTO OUTFILE '/tmp/webapp_console_never.txt'",
        ]
    else:
        attempts = [
            "COPY (SELECT 1) TO PROGRAM 'true'",
            "COPY books FROM '/etc/hostname'",
            "SELECT pg_read_file('/etc/hostname')",
            "ALTER SYSTEM SET work_mem = '4MB'",
        ]
    for sql in attempts:
        status, html = await run(client, token, sql)
        assert status == 400, (sql, html[:2000])
        assert refusal(html)
        assert await snapshot(engine) == before


async def test_a_statement_over_the_time_limit_is_stopped_by_the_database(
    make_client, engine: AsyncEngine, backend: str
) -> None:
    await arrange(engine, backend)
    client, token = await start(make_client, time_limit=0.5)
    slow = {
        "postgresql": "SELECT pg_sleep(60)",
        "mysql": "SELECT SLEEP(60)",
        "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT count(*) FROM n",
    }[backend]
    status, html = await run(client, token, slow)
    assert status == 400, html[:2000]
    assert "time limit (0.5 s)" in refusal(html)
    # The next statement runs normally on the same pool.
    status, html = await run(client, token, "SELECT count(*) AS n FROM books")
    assert status == 200 and result_table(html)[1] == ["3"]


async def test_very_long_and_invalid_sql_are_refused_with_the_database_words(
    make_client, engine: AsyncEngine, backend: str
) -> None:
    await arrange(engine, backend)
    before = await snapshot(engine)
    client, token = await start(make_client)
    status, html = await run(client, token, "SELEC title FROM books")
    assert status == 400 and "syntax" in refusal(html).lower()
    long_sql = "SELECT " + " + ".join(["1"] * 60_000)
    status, html = await run(client, token, long_sql)
    assert status in (200, 400)  # a database may add it up or refuse it; never a 500
    status, html = await run(
        client, token, "SELECT 'x" + "y" * 500_000 + "' AS v; DROP TABLE books"
    )
    assert status == 400
    for action in ("run", "explain", "save"):
        status, html = await run(client, token, "SELECT 1\x00", action)
        assert status == 400 and "NUL" in html
    response = await client.post(
        "/sql/download.csv", data={"csrf_token": token, "sql": "SELECT '\x00'"}
    )
    assert response.status == 400 and "NUL" in await response.text()
    assert await snapshot(engine) == before


async def test_results_are_typed_cells_with_row_count_elapsed_time_and_row_cap(
    make_client, engine: AsyncEngine, backend: str
) -> None:
    await arrange(engine, backend)
    client, token = await start(make_client, max_rows=2)
    status, html = await run(client, token, "SELECT id, title, price FROM books ORDER BY id")
    assert status == 200
    grid = result_table(html)
    assert grid[0] == ["id", "title", "price"]
    # SQLite keeps a DECIMAL as a float: the console shows what the database returns.
    dune = "9.5" if backend == "sqlite" else "9.50"
    assert grid[1:] == [["1", "Dune", dune], ["2", "Emma", "5.25"]]
    assert '<td class="n">1</td>' in html  # the table page's number cell
    assert "the first 2; download for all" in html
    assert re.search(r'<span class="elapsed">\d+ ms</span>', html)
    status, html = await run(client, token, "SELECT price FROM books WHERE id = 3")
    assert '<span class="null">NULL</span>' in html
    # EXPLAIN shows a plan instead of the rows.
    status, html = await run(client, token, "SELECT * FROM books WHERE id = 1", action="explain")
    assert status == 200 and "Dune" not in result_table(html)[1:].__repr__()


@pytest.mark.parametrize("format_name", ["csv", "json"])
async def test_downloads_stream_every_row_past_the_page_cap(
    make_client, engine: AsyncEngine, backend: str, format_name: str
) -> None:
    await arrange(engine, backend)
    client, token = await start(make_client, max_rows=1)
    response = await client.post(
        f"/sql/download.{format_name}",
        data={"csrf_token": token, "sql": "SELECT id, title, price FROM books ORDER BY id"},
    )
    assert response.status == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    body = await response.text()
    if format_name == "csv":
        assert list(csv.reader(io.StringIO(body))) == [
            ["id", "title", "price"],
            ["1", "Dune", "9.5" if backend == "sqlite" else "9.50"],
            ["2", "Emma", "5.25"],
            ["3", "Ulysses", ""],
        ]
    else:
        prices = [9.5, 5.25] if backend == "sqlite" else ["9.50", "5.25"]
        assert json.loads(body) == [
            {"id": 1, "title": "Dune", "price": prices[0]},
            {"id": 2, "title": "Emma", "price": prices[1]},
            {"id": 3, "title": "Ulysses", "price": None},
        ]
    before = await snapshot(engine)
    response = await client.post(
        f"/sql/download.{format_name}", data={"csrf_token": token, "sql": "DELETE FROM books"}
    )
    assert response.status == 400
    assert await snapshot(engine) == before


async def test_every_run_is_recorded_with_its_outcome(
    make_client, engine: AsyncEngine, backend: str
) -> None:
    await arrange(engine, backend)
    client, token = await start(make_client)
    await run(client, token, "SELECT * FROM books")
    await run(client, token, "DELETE FROM books")
    accounts = client.server.app[ACCOUNTS]
    model = accounts.models.sql_run
    async with accounts.sessionmaker() as session:
        from sqlalchemy import select

        runs = (await session.scalars(select(model).order_by(model.id))).all()
    assert [(r.username, r.sql_text, r.action, r.row_count) for r in runs] == [
        ("test-admin", "SELECT * FROM books", "run", 3),
        ("test-admin", "DELETE FROM books", "run", None),
    ]
    assert runs[0].error is None and runs[1].error
    page = await (await client.get("/sql")).text()
    assert "Your recent runs" in page and "DELETE FROM books" in page


async def test_saved_queries_bind_parameters_as_values(
    make_client, engine: AsyncEngine, backend: str
) -> None:
    await arrange(engine, backend)
    before = await snapshot(engine)
    client, token = await start(make_client)
    sql = "SELECT id, title FROM books WHERE title = :title OR id = CAST(:id AS INTEGER)"
    if backend == "mysql":
        sql = sql.replace("AS INTEGER", "AS SIGNED")
    response = await client.post(
        "/sql",
        data={
            "csrf_token": token,
            "sql": sql,
            "action": "save",
            "name": "By title",
            "description": "one book",
            "shared": "on",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    url = response.headers["Location"]
    assert re.fullmatch(r"/sql/q/\d+", url)
    page = await (await client.get(url)).text()
    assert 'name="p:title"' in page and 'name="p:id"' in page and "one book" in page
    status, html = await run(client, token, sql, title="Emma", id="0")
    assert [row[1] for row in result_table(html)[1:]] == ["Emma"]
    for injection in ("' OR '1'='1", "Emma'; DELETE FROM books; --", "1 OR 1=1"):
        status, html = await run(client, token, sql, title=injection, id="0")
        assert status == 200, html[:2000]
        assert result_table(html)[1:] == []
    assert await snapshot(engine) == before
    # A missing parameter asks for it instead of running.
    status, html = await run(client, token, sql, title="Emma")
    assert "Give a value for the parameter :id." in html
    # Someone else sees a shared query; a private one stays its owner's.
    accounts = client.server.app[ACCOUNTS]
    owner = (await accounts.state(1)) or (await accounts.state(2))
    other = UserState(999, "other", "admin", False, 1, True)
    private_id = await store.save_query(accounts, owner, "Mine", "", "SELECT 1", False)
    shared_id = int(url.rsplit("/", 1)[1])
    assert await store.find_query(accounts, other, shared_id) is not None
    assert await store.find_query(accounts, other, private_id) is None
    assert (await client.get(f"/sql/q/{private_id + 100}")).status == 404


NARROWED = {"books": TableOptions(roles={"admin": RoleRules(hidden_columns=frozenset({"price"}))})}


@pytest.mark.parametrize(
    ("role", "changes", "status", "words"),
    [
        ("viewer", {}, 403, "sql.roles"),
        ("editor", {}, 403, "sql.roles"),
        ("editor", {"sql": SqlSettings(roles=frozenset({"admin", "editor"}))}, 200, "SQL console"),
        ("admin", {}, 200, "SQL console"),
        ("admin", {"tables": NARROWED}, 403, "sql.allow_with_rules"),
        ("admin", {"tables": NARROWED, "sql": SqlSettings(allow_with_rules=True)}, 200, "SQL"),
    ],
    ids=["viewer", "editor", "editor-listed", "admin", "admin-narrowed", "admin-allowed"],
)
async def test_who_may_use_the_console(
    make_client, engine: AsyncEngine, role: str, changes: dict, status: int, words: str
) -> None:
    await arrange(engine, "")
    client = await make_client(role=role, **changes)
    response = await client.get("/sql")
    assert response.status == status
    assert words in await response.text()
    page = await (await client.get("/")).text()
    assert ('href="/sql"' in page) == (role in (changes.get("sql") or SqlSettings()).roles)
    token = await form_token(client, "/")
    response = await client.post("/sql", data={"csrf_token": token, "sql": "SELECT 1"})
    assert response.status == status
