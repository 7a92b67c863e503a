"""Creating, editing and deleting records through the forms, on every backend: exact round
trips per type, field errors with nothing written, database refusals as messages,
lost-update protection, CSRF, and concurrent saves."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Time,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine

HIGH_PRECISION = "12345678901234567890123456789012345.123456789012345678901234567891"
SQLITE_PRECISION = "12345.6789012345"
LONG_TEXT = ("line with trailing space \nCRLF line\r\n\ttab\n" * 3000) + "end  "


def kinds_table(metadata: MetaData) -> Table:
    return Table(
        "kinds",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("i", BigInteger),
        Column("d", Numeric(65, 30)),
        Column("b", Boolean),
        Column("day", Date),
        Column("at", DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")),
        Column("t", Time().with_variant(mysql.TIME(fsp=6), "mysql", "mariadb")),
        Column("status", Enum("new", "old", name="kind_status")),
        Column("doc", JSON),
        Column("short", String(20)),
        Column("long", Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")),
        Column("blob", LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")),
        Column("code", String(10), unique=True),
        Column("qty", Integer),
        CheckConstraint("qty >= 0", name="qty_not_negative"),
    )


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    """The module's tables and app, shared by the tests that only read or whose writes are
    refused: `kinds` holds row 1 (short 'keep', i 1) for them."""
    metadata = MetaData()
    kinds_table(metadata)
    parents = Table(
        "parents",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(50)),
    )
    Table(
        "children",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("parent_id", ForeignKey("parents.id", ondelete="RESTRICT")),
    )
    Table("no_key", metadata, Column("x", Integer))
    async with module_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(parents), [{"id": n, "name": f"Parent {n:03d}"} for n in range(1, 151)]
        )
        await conn.execute(text("CREATE VIEW parent_names AS SELECT name FROM parents"))
    await insert_kind(module_engine, short="keep", i=1)
    return await module_client()


@pytest.fixture
async def own_client(engine: AsyncEngine, make_client):
    """An app of the test's own, for tests that write or patch the app."""
    metadata = MetaData()
    kinds_table(metadata)
    parents = Table(
        "parents",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(50)),
    )
    Table(
        "children",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("parent_id", ForeignKey("parents.id", ondelete="RESTRICT")),
    )
    Table("no_key", metadata, Column("x", Integer))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(parents), [{"id": n, "name": f"Parent {n:03d}"} for n in range(1, 151)]
        )
        await conn.execute(text("CREATE VIEW parent_names AS SELECT name FROM parents"))
    return await make_client()


async def fetch_row(engine: AsyncEngine, table: str, key: int) -> dict[str, Any] | None:
    metadata = MetaData()
    async with engine.connect() as conn:
        reflected = await conn.run_sync(lambda sync: Table(table, metadata, autoload_with=sync))
        row = (
            (await conn.execute(select(reflected).where(reflected.c.id == key))).mappings().first()
        )
    return dict(row) if row is not None else None


async def insert_kind(engine: AsyncEngine, **values: Any) -> None:
    metadata = MetaData()
    kinds = kinds_table(metadata)
    async with engine.begin() as conn:
        await conn.execute(insert(kinds).values(id=1, **values))


def as_json(value: Any) -> Any:
    """MariaDB keeps JSON as text: compare documents, not spellings."""
    return json.loads(value) if isinstance(value, str) else value


async def test_create_form_round_trips_every_type_exactly(
    own_client, engine: AsyncEngine, open_form, backend: str
) -> None:
    form = await open_form(own_client, "/t/kinds/new")
    decimal_text = SQLITE_PRECISION if backend == "sqlite" else HIGH_PRECISION
    document = {"a": [1, "ü😀"], "n": None, "nested": {"x": True}}
    form.set("i", "9223372036854775807")
    form.set("d", decimal_text)
    form.set("b", "1")
    form.set("day", "2024-02-29")
    form.set("at", "2024-02-29 23:59:59.123456")
    form.set("t", "12:34:56.654321")
    form.set("status", "old")
    form.set("doc", json.dumps(document, ensure_ascii=False))
    form.set("short", "  ünï 😀 ")
    form.set("long", "first\nsecond  \n\n  indented")
    form.set("blob", b"\x00\x01\x00\xff\x00")
    form.set("code", "")
    response = await form.submit(own_client)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/t/kinds/r/1"
    row = await fetch_row(engine, "kinds", 1)
    assert row is not None
    assert row["i"] == 9223372036854775807
    if backend == "sqlite":  # SQLite stores decimals as floats: exact to 15 digits
        assert float(row["d"]) == float(decimal_text)
    else:
        assert row["d"] == Decimal(decimal_text)
    assert bool(row["b"]) is True
    assert row["day"] == dt.date(2024, 2, 29)
    assert row["at"] == dt.datetime(2024, 2, 29, 23, 59, 59, 123456)
    t = row["t"]
    assert t in (dt.time(12, 34, 56, 654321), dt.timedelta(hours=12, minutes=34, seconds=56.654321))
    assert row["status"] == "old"
    assert as_json(row["doc"]) == document
    assert row["short"] == "  ünï 😀 "
    assert row["long"] == "first\nsecond  \n\n  indented"
    assert bytes(row["blob"]) == b"\x00\x01\x00\xff\x00"
    assert row["code"] == ""
    assert row["qty"] is None
    page = await own_client.get("/t/kinds/r/1")
    assert "Record created." in await page.text()
    again = await own_client.get("/t/kinds/r/1")
    assert "Record created." not in await again.text()


async def test_auto_increment_key_is_left_to_the_database(client, open_form) -> None:
    response = await client.get("/t/kinds/new")
    body = await response.text()
    assert re.search(r'<p class="fixed" id="c0"><span class="muted">set by the database', body)
    form = await open_form(client, "/t/kinds/new")
    assert "c0" not in [field[0] for field in form.fields]


async def test_saving_an_unchanged_form_leaves_the_row_byte_identical(
    own_client, engine: AsyncEngine, open_form, backend: str
) -> None:
    decimal_value = Decimal(SQLITE_PRECISION if backend == "sqlite" else HIGH_PRECISION)
    await insert_kind(
        engine,
        i=None,
        d=decimal_value,
        b=None,
        day=dt.date(1, 1, 1),
        at=dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
        t=dt.time(0, 0, 0, 1),
        status=None,
        doc={"k": "v", "list": [1.5, None]},
        short="",
        long=LONG_TEXT,
        blob=b"\x00" * 10 + b"\xff",
        code=None,
        qty=0,
    )
    before = await fetch_row(engine, "kinds", 1)
    form = await open_form(own_client, "/t/kinds/r/1/edit")
    assert form.is_ticked("i") and form.is_ticked("code") and not form.is_ticked("short")
    response = await form.submit(own_client)
    assert response.status == 303, await response.text()
    after = await fetch_row(engine, "kinds", 1)
    assert after == before
    assert after is not None and after["long"] == LONG_TEXT and after["short"] == ""


async def test_edit_sets_null_and_empty_string_distinctly(
    own_client, engine: AsyncEngine, open_form
) -> None:
    await insert_kind(engine, short="was text", long="was long", i=5)
    form = await open_form(own_client, "/t/kinds/r/1/edit")
    form.set("short", "")
    form.set("long", "")
    form.tick("long")
    form.set("i", "")
    response = await form.submit(own_client)
    assert response.status == 303, await response.text()
    row = await fetch_row(engine, "kinds", 1)
    assert row is not None
    assert row["short"] == "" and row["long"] is None and row["i"] is None
    page = await (await own_client.get("/t/kinds/r/1")).text()
    assert "Changes saved." in page


BAD_INPUTS = [
    ("i", "12x", "Enter a whole number"),
    ("i", "99999999999999999999999", "too large"),
    ("d", "1.5.5", "Enter a decimal number"),
    ("d", "1." + "1" * 31, "At most 30 digits after the point"),
    ("day", "2024-02-30", "Enter a date as YYYY-MM-DD"),
    ("at", "yesterday", "Enter a date and time"),
    ("t", "noon", "Enter a time"),
    # MariaDB's JSON is a LONGTEXT that its own check constraint validates
    ("doc", '{"unclosed": ', "Not valid JSON|The database refused it"),
    ("short", "x" * 21, "At most 20 characters"),
    # SQLite has no enum type: there the column is a VARCHAR(3)
    ("status", "neither", "Choose one of the listed values|At most 3 characters"),
    ("b", "maybe", "Choose true or false"),
]


@pytest.mark.parametrize(("column", "value", "message"), BAD_INPUTS)
async def test_bad_input_is_a_field_error_and_nothing_is_written(
    client, module_engine: AsyncEngine, open_form, column: str, value: str, message: str
) -> None:
    before = await fetch_row(module_engine, "kinds", 1)
    form = await open_form(client, "/t/kinds/r/1/edit")
    form.set("qty", "7")  # a valid change alongside must not be written either
    form.set(column, value)
    response = await form.submit(client)
    assert response.status == 400
    body = await response.text()
    error = re.search(r'<p class="field-error" id="(c\d+)-error">([^<]*)</p>', body)
    assert error is not None and error.group(1) == form.name(column)
    assert re.search(message, error.group(2))
    assert re.search(r">\s*Nothing was saved", body)
    if column not in ("status", "b"):
        assert value.replace('"', "&#34;")[:30] in body
    assert await fetch_row(module_engine, "kinds", 1) == before


async def test_create_with_bad_input_writes_nothing(
    own_client, engine: AsyncEngine, open_form
) -> None:
    form = await open_form(own_client, "/t/kinds/new")
    form.set("short", "fine")
    form.set("at", "2024-13-01 00:00:00")
    response = await form.submit(own_client)
    assert response.status == 400
    assert "Enter a date and time" in await response.text()
    assert await fetch_row(engine, "kinds", 1) is None


async def test_unique_and_check_refusals_become_form_messages(
    own_client, engine: AsyncEngine, open_form
) -> None:
    await insert_kind(engine, code="TAKEN")
    form = await open_form(own_client, "/t/kinds/new")
    form.set("code", "TAKEN")
    response = await form.submit(own_client)
    assert response.status == 400
    body = await response.text()
    assert "Another row already has this value." in body
    assert 'value="TAKEN"' in body
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT COUNT(*) FROM kinds")) == 1
    form = await open_form(own_client, "/t/kinds/r/1/edit")
    form.set("qty", "-1")
    response = await form.submit(own_client)
    assert response.status == 400
    assert "The database refused it." in await response.text()
    row = await fetch_row(engine, "kinds", 1)
    assert row is not None and row["qty"] is None


async def test_foreign_key_refusal_is_a_message(own_client, engine: AsyncEngine, open_form) -> None:
    form = await open_form(own_client, "/t/children/new")
    form.set("id", "1")
    form.set("parent_id", "9999")
    response = await form.submit(own_client)
    assert response.status == 400
    assert "No row of the referenced table has this key." in await response.text()
    assert await fetch_row(engine, "children", 1) is None


async def test_lost_update_gives_one_success_and_one_conflict(
    own_client, engine: AsyncEngine, open_form
) -> None:
    await insert_kind(engine, short="original")
    first = await open_form(own_client, "/t/kinds/r/1/edit")
    second = await open_form(own_client, "/t/kinds/r/1/edit")
    first.set("short", "first change")
    second.set("short", "second change")
    assert (await first.submit(own_client)).status == 303
    response = await second.submit(own_client)
    assert response.status == 409
    body = await response.text()
    assert "second change" in body and "first change" in body
    row = await fetch_row(engine, "kinds", 1)
    assert row is not None and row["short"] == "first change"


async def test_delete_asks_then_deletes(own_client, engine: AsyncEngine, open_form) -> None:
    await insert_kind(engine, short="doomed")
    record = await (await own_client.get("/t/kinds/r/1")).text()
    assert 'href="/t/kinds/r/1/delete"' in record and 'href="/t/kinds/r/1/edit"' in record
    form = await open_form(own_client, "/t/kinds/r/1/delete")
    assert await fetch_row(engine, "kinds", 1) is not None
    response = await form.submit(own_client)
    assert response.status == 303 and response.headers["Location"] == "/t/kinds"
    assert await fetch_row(engine, "kinds", 1) is None
    assert "Record 1 deleted." in await (await own_client.get("/t/kinds")).text()


async def test_delete_of_a_changed_row_is_a_conflict(
    own_client, engine: AsyncEngine, open_form
) -> None:
    await insert_kind(engine, short="before")
    delete_form = await open_form(own_client, "/t/kinds/r/1/delete")
    edit = await open_form(own_client, "/t/kinds/r/1/edit")
    edit.set("short", "changed meanwhile")
    assert (await edit.submit(own_client)).status == 303
    response = await delete_form.submit(own_client)
    assert response.status == 409
    assert "changed meanwhile" in await response.text()
    row = await fetch_row(engine, "kinds", 1)
    assert row is not None and row["short"] == "changed meanwhile"


async def test_delete_of_a_referenced_row_names_the_referencing_table(
    own_client, engine: AsyncEngine, open_form
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO children (id, parent_id) VALUES (1, 7)"))
    form = await open_form(own_client, "/t/parents/r/7/delete")
    response = await form.submit(own_client)
    assert response.status == 409
    body = await response.text()
    assert "still referenced by rows of children (via parent_id)" in body
    assert await fetch_row(engine, "parents", 7) is not None


@pytest.mark.parametrize(
    ("headers", "token", "message"),
    [
        ({}, None, "missing"),
        ({}, "wrong-token", "wrong"),
        ({"Origin": "https://evil.example"}, "keep", "another site"),
        ({"Sec-Fetch-Site": "cross-site"}, "keep", "another site"),
        ({"Origin": "null"}, "keep", "another site"),
    ],
)
async def test_forged_requests_are_refused(
    client, module_engine: AsyncEngine, open_form, headers: dict, token: str | None, message: str
) -> None:
    form = await open_form(client, "/t/kinds/r/1/edit")
    form.set("short", "forged")
    form.fields = [field for field in form.fields if field[0] != "csrf_token"]
    if token is not None and token != "keep":
        form.fields.append(["csrf_token", token, "hidden"])
    elif token == "keep":
        real = await open_form(client, "/t/kinds/r/1/edit")
        form.fields.append(["csrf_token", real.field("csrf_token"), "hidden"])
    response = await form.submit(client, **headers)
    assert response.status == 403
    assert message in await response.text()
    row = await fetch_row(module_engine, "kinds", 1)
    assert row is not None and row["short"] == "keep"


async def test_same_origin_request_is_accepted(own_client, engine: AsyncEngine, open_form) -> None:
    await insert_kind(engine, short="old")
    form = await open_form(own_client, "/t/kinds/r/1/edit")
    form.set("short", "new")
    origin = f"http://{own_client.server.host}:{own_client.server.port}"
    response = await form.submit(own_client, Origin=origin, **{"Sec-Fetch-Site": "same-origin"})
    assert response.status == 303
    row = await fetch_row(engine, "kinds", 1)
    assert row is not None and row["short"] == "new"


async def test_post_without_a_session_is_refused(own_client, engine: AsyncEngine) -> None:
    response = await own_client.post("/t/kinds/new", data={"c9": "x", "csrf_token": "anything"})
    assert response.status == 403
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT COUNT(*) FROM kinds")) == 0


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/t/parent_names/new", "This is a view"),
        ("/t/no_key/new", "no primary key"),
    ],
)
async def test_views_and_tables_without_key_are_read_only(client, path: str, reason: str) -> None:
    response = await client.get(path)
    assert response.status == 403
    assert reason in await response.text()
    table_page = await (await client.get(path.removesuffix("/new"))).text()
    assert "New record" not in table_page
    assert "New record" in await (await client.get("/t/kinds")).text()


async def test_foreign_keys_get_a_select_or_a_lookup_picker(client, open_form) -> None:
    body = await (await client.get("/t/children/new")).text()
    # 150 parents is more than a select should hold: a key input with a picker.
    assert 'data-lookup="/t/parents/lookup"' in body
    response = await client.get("/t/parents/lookup", params={"q": "Parent 01"})
    assert response.status == 200
    rows = await response.json()
    assert {"key": "10", "label": "10 — Parent 010"} in rows
    assert all(row["label"].split(" — ")[1].startswith("Parent 01") for row in rows)
    by_key = await (await client.get("/t/parents/lookup", params={"q": "42"})).json()
    # The row with that key comes first, then labels that hold "42" anywhere.
    assert by_key == [
        {"key": "42", "label": "42 — Parent 042"},
        {"key": "142", "label": "142 — Parent 142"},
    ]
    wildcard = await (await client.get("/t/parents/lookup", params={"q": "%"})).json()
    assert wildcard == []


async def test_small_referenced_table_is_a_select(
    engine: AsyncEngine, make_client, open_form
) -> None:
    metadata = MetaData()
    Table("colors", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)))
    Table(
        "things",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("color_id", ForeignKey("colors.id")),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(text("INSERT INTO colors (id, name) VALUES (1, 'red'), (2, 'blue')"))
    client = await make_client()
    body = await (await client.get("/t/things/new")).text()
    assert '<option value="2">2 — blue</option>' in body
    form = await open_form(client, "/t/things/new")
    form.set("color_id", "2")
    response = await form.submit(client)
    assert response.status == 303
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT color_id FROM things")) == 2


async def test_concurrent_saves_queue_and_all_succeed(
    own_client, engine: AsyncEngine, open_form
) -> None:
    forms = [await open_form(own_client, "/t/kinds/new") for _ in range(8)]
    for n, form in enumerate(forms):
        form.set("short", f"row {n}")
        form.set("long", "x" * 10_000)
    responses = await asyncio.gather(*(form.submit(own_client) for form in forms))
    assert [response.status for response in responses] == [303] * 8
    edits = [await open_form(own_client, f"/t/kinds/r/{n}/edit") for n in range(1, 9)]
    for n, form in enumerate(edits):
        form.set("qty", str(n))
    responses = await asyncio.gather(*(form.submit(own_client) for form in edits))
    assert [response.status for response in responses] == [303] * 8
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, qty FROM kinds ORDER BY id"))).all()
    assert [tuple(row) for row in rows] == [(n + 1, n) for n in range(8)]


async def test_form_pages_carry_security_headers(client) -> None:
    response = await client.get("/t/kinds/new")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Referrer-Policy" in response.headers
    body = await response.text()
    assert "<script>" not in body and "style=" not in body


async def test_save_waits_for_a_concurrent_writer_then_reports_the_conflict(
    own_client, engine: AsyncEngine, open_form
) -> None:
    """The save locks the row before checking it: while another transaction holds it, the
    save waits (on SQLite too, instead of 'database is locked'), then sees the change."""
    await insert_kind(engine, short="original")
    form = await open_form(own_client, "/t/kinds/r/1/edit")
    form.set("short", "mine")
    async with engine.connect() as other:
        transaction = await other.begin()
        await other.execute(text("UPDATE kinds SET short = 'theirs' WHERE id = 1"))
        save = asyncio.create_task(form.submit(own_client))
        await asyncio.sleep(0.5)
        assert not save.done()  # queued behind the other writer's lock, not failed
        await transaction.commit()
        response = await save
    assert response.status == 409
    assert "mine" in await response.text()
    row = await fetch_row(engine, "kinds", 1)
    assert row is not None and row["short"] == "theirs"


async def test_out_of_range_refusal_is_a_form_message(
    own_client, engine: AsyncEngine, open_form, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite's INTEGER holds any 64-bit value")
    await insert_kind(engine, qty=1)
    form = await open_form(own_client, "/t/kinds/r/1/edit")
    form.set("qty", "99999999999")
    response = await form.submit(own_client)
    assert response.status == 400
    body = await response.text()
    assert "The value is out of range." in body
    assert 'value="99999999999"' in body
    row = await fetch_row(engine, "kinds", 1)
    assert row is not None and row["qty"] == 1


async def test_binary_upload_replaces_and_null_box_clears(
    own_client, engine: AsyncEngine, open_form
) -> None:
    await insert_kind(engine, blob=b"old\x00bytes", doc={"keep": 1})
    form = await open_form(own_client, "/t/kinds/r/1/edit")
    form.set("blob", b"\x00new\x00\xff")
    assert (await form.submit(own_client)).status == 303
    row = await fetch_row(engine, "kinds", 1)
    assert row is not None and bytes(row["blob"]) == b"\x00new\x00\xff"
    form = await open_form(own_client, "/t/kinds/r/1/edit")
    form.tick("blob")
    form.set("doc", "")
    form.tick("doc")
    assert (await form.submit(own_client)).status == 303
    kinds = kinds_table(MetaData())
    async with engine.connect() as conn:
        blob_is_null, doc_is_null = (
            await conn.execute(select(kinds.c.blob.is_(None), kinds.c.doc.is_(None)))
        ).one()
    assert bool(blob_is_null) and bool(doc_is_null)  # SQL NULL, not the JSON text null
