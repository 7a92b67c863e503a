"""The audit trail, history and revert, on every backend: exact entries for create, update
and delete (typed values that round-trip), none after a rollback, each kind of revert and
its conflicts, the record's history and the activity page with its filters."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import FAST_HASHING, form_token
from webapp.changes.audit import AuditTrail
from webapp.changes.audit_values import dump_row, load_key, load_row
from webapp.changes.writes import insert_row, write_transaction
from webapp.views.common import audit_log
from webapp.web.appkeys import CATALOG, SESSIONMAKER
from webapp.web.urls import record_url

MOMENT = dt.datetime(2024, 2, 29, 23, 59, 59, 123456)
BLOB = b"\x00\x01\xff\x00"


def items_table(metadata: MetaData) -> Table:
    return Table(
        "items",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("price", Numeric(12, 4)),
        Column("at", DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")),
        Column("data", LargeBinary),
        Column("note", String(50), nullable=True),
        Column("doc", JSON, nullable=True),
        Column("code", String(10), unique=True, nullable=True),
    )


@pytest.fixture
async def tables(engine: AsyncEngine) -> None:
    metadata = MetaData()
    items = items_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(items).values(
                id=1,
                price=Decimal("12.5000"),
                at=MOMENT,
                data=BLOB,
                note="",
                doc={"a": [1, "ü"]},
                code="one",
            )
        )


async def audit_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM webapp_audit_log ORDER BY id"))
        return [dict(row._mapping) for row in rows]


async def item(engine: AsyncEngine, key: int = 1) -> dict[str, Any] | None:
    metadata = MetaData()
    items = items_table(metadata)
    async with engine.connect() as conn:
        row = (await conn.execute(select(items).where(items.c.id == key))).mappings().first()
    return dict(row) if row is not None else None


async def edit_note(client, open_form, note: str, key: int = 1):
    form = await open_form(client, f"/t/items/r/{key}/edit")
    form.set("note", note)
    response = await form.submit(client)
    assert response.status == 303, await response.text()


async def create_item(client, open_form, code: str) -> int:
    """Create an item through the form (its key may be numbered by the database)."""
    form = await open_form(client, "/t/items/new")
    if form.labels.get("id") in {field[0] for field in form.fields}:
        form.set("id", "50")
    form.set("code", code)
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    return int(response.headers["Location"].rsplit("/", 1)[1])


async def post(client, path: str, **data: str):
    token = await form_token(client, "/activity")
    return await client.post(path, data={"csrf_token": token, **data}, allow_redirects=False)


def as_json(value: Any) -> Any:
    """MariaDB keeps JSON as text: compare documents, not spellings."""
    return json.loads(value) if isinstance(value, str) else value


def values(entry: dict[str, Any], which: str) -> dict[str, Any] | None:
    return load_row(entry[{"before": "old_values", "after": "new_values"}[which]])


# --- entries ----------------------------------------------------------------------------------


async def test_typed_values_round_trip_exactly() -> None:
    row = {
        "d": Decimal("1.2300"),
        "at": MOMENT,
        "aware": dt.datetime(2024, 1, 1, 1, 2, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "day": dt.date(2024, 2, 29),
        "t": dt.time(1, 2, 3, 999999),
        "span": dt.timedelta(days=-1, seconds=5, microseconds=7),
        "b": BLOB,
        "empty": "",
        "null": None,
        "json": {"n": None, "l": [1.5, "x"]},
        "flag": True,
        "big": 2**70,
        "f": 0.1,
        "s": "ü😀\r\n",
    }
    back = load_row(dump_row(row))
    assert back == row
    assert [type(value) for value in back.values()] == [type(value) for value in row.values()]
    assert back["d"].as_tuple() == Decimal("1.2300").as_tuple()


async def test_create_records_who_when_key_and_every_value(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/items/new")
    form.set("id", "2")
    form.set("price", "3.2500")
    form.set("at", "2024-02-29 23:59:59.123456")
    form.set("data", BLOB)
    form.set("note", "")
    form.tick("doc")
    form.set("code", "two")
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    [entry] = await audit_rows(engine)
    assert entry["action"] == "create"
    assert entry["username"] == "test-editor"
    assert entry["table_name"] == "items"
    assert entry["state"] == "committed"
    assert load_key(entry["row_key"]) == (2,)
    assert entry["old_values"] is None
    at = entry["at"]
    at = dt.datetime.fromisoformat(at) if isinstance(at, str) else at  # SQLite: text
    assert started - dt.timedelta(seconds=1) <= at <= started + dt.timedelta(minutes=1)
    after = values(entry, "after")
    assert after == {
        "id": 2,
        "price": Decimal("3.25"),
        "at": MOMENT,
        "data": BLOB,
        "note": "",
        "doc": None,
        "code": "two",
    }


async def test_update_records_only_the_changed_columns(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    await edit_note(client, open_form, "now set")
    [entry] = await audit_rows(engine)
    assert entry["action"] == "update"
    assert values(entry, "before") == {"note": ""}
    assert values(entry, "after") == {"note": "now set"}


async def test_an_unchanged_save_records_nothing(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/items/r/1/edit")
    assert (await form.submit(client)).status == 303
    assert await audit_rows(engine) == []


async def test_delete_records_the_whole_row_before(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/items/r/1/delete")
    assert (await form.submit(client)).status == 303
    [entry] = await audit_rows(engine)
    assert entry["action"] == "delete"
    assert entry["new_values"] is None
    before = values(entry, "before")
    assert before is not None
    assert (before["at"], before["data"], before["note"], as_json(before["doc"])) == (
        MOMENT,
        BLOB,
        "",
        {"a": [1, "ü"]},
    )
    assert before["price"] == Decimal("12.5")


async def test_a_rolled_back_write_leaves_no_entry(
    tables, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    app = client.server.app
    info = app[CATALOG].tables["items"]
    trail = AuditTrail(audit_log(app), user_id=None, username="script")
    async with app[SESSIONMAKER]() as session:
        with pytest.raises(IntegrityError):
            async with write_transaction(session, trail) as conn:
                await insert_row(conn, info, {"id": 5, "code": "five"})
                assert len(await _entries_on(conn)) == 1  # written, in the transaction
                await insert_row(conn, info, {"id": 6, "code": "one"})  # the database refuses
    assert await audit_rows(engine) == []
    assert await item(engine, 5) is None


async def _entries_on(conn) -> list[Any]:
    return list((await conn.execute(text("SELECT id FROM webapp_audit_log"))).all())


async def test_a_write_outside_write_transaction_is_refused(
    tables, make_client, engine: AsyncEngine
) -> None:
    client = await make_client()
    app = client.server.app
    async with app[SESSIONMAKER]() as session, session.begin():
        conn = await session.connection()
        with pytest.raises(RuntimeError, match="write_transaction"):
            await insert_row(conn, app[CATALOG].tables["items"], {"id": 7})
    assert await item(engine, 7) is None


async def test_separate_accounts_database_marks_entries_committed(
    tables, make_client, engine: AsyncEngine, open_form, tmp_path: Path
) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    accounts_url = f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
    auth = FAST_HASHING.__class__(
        password_hash=FAST_HASHING.password_hash, database_url=make_url(accounts_url)
    )
    client = await make_client(role="editor", auth=auth)
    await edit_note(client, open_form, "elsewhere")
    accounts = create_async_engine(accounts_url)
    try:
        [entry] = await audit_rows(accounts)
    finally:
        await accounts.dispose()
    assert (entry["action"], entry["state"]) == ("update", "committed")
    assert values(entry, "after") == {"note": "elsewhere"}
    history = await (await client.get("/t/items/r/1")).text()
    assert "elsewhere" in history


async def test_separate_accounts_database_marks_a_rolled_back_change_failed(
    tables, make_client, engine: AsyncEngine, tmp_path: Path
) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    accounts_url = f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
    auth = FAST_HASHING.__class__(
        password_hash=FAST_HASHING.password_hash, database_url=make_url(accounts_url)
    )
    client = await make_client(role="editor", auth=auth)
    app = client.server.app
    info = app[CATALOG].tables["items"]
    trail = AuditTrail(audit_log(app), user_id=None, username="script")
    async with app[SESSIONMAKER]() as session:
        with pytest.raises(IntegrityError):
            async with write_transaction(session, trail) as conn:
                await insert_row(conn, info, {"id": 5, "code": "five"})
                await insert_row(conn, info, {"id": 6, "code": "one"})  # the database refuses
    accounts = create_async_engine(accounts_url)
    try:
        states = [(row["action"], row["state"]) for row in await audit_rows(accounts)]
    finally:
        await accounts.dispose()
    assert states == [("create", "failed")]
    assert await item(engine, 5) is None
    page = await (await client.get("/activity")).text()
    assert ">failed<" in page and "/activity/1/revert" not in page


# --- revert -----------------------------------------------------------------------------------


async def test_reverting_an_update_restores_the_old_values_and_is_audited(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    await edit_note(client, open_form, "changed")
    [first] = await audit_rows(engine)
    confirm = await client.get(f"/activity/{first['id']}/revert")
    assert confirm.status == 200
    assert "Revert this change" in await confirm.text()
    response = await post(client, f"/activity/{first['id']}/revert")
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/t/items/r/1"
    assert (await item(engine))["note"] == ""
    entries = await audit_rows(engine)
    assert len(entries) == 2
    revert = entries[1]
    assert (revert["action"], revert["reverts_id"], revert["username"]) == (
        "update",
        first["id"],
        "test-editor",
    )
    assert values(revert, "before") == {"note": "changed"}
    assert values(revert, "after") == {"note": ""}


async def test_reverting_a_delete_recreates_the_row_exactly(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    original = await item(engine)
    form = await open_form(client, "/t/items/r/1/delete")
    assert (await form.submit(client)).status == 303
    [deleted] = await audit_rows(engine)
    response = await post(client, f"/activity/{deleted['id']}/revert")
    assert response.status == 303, await response.text()
    assert await item(engine) == original
    entries = await audit_rows(engine)
    assert (entries[1]["action"], entries[1]["reverts_id"]) == ("create", deleted["id"])


async def test_reverting_a_create_deletes_the_row(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    key = await create_item(client, open_form, "three")
    [created] = await audit_rows(engine)
    assert await item(engine, key) is not None
    response = await post(client, f"/activity/{created['id']}/revert")
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/t/items"
    assert await item(engine, key) is None
    assert (await audit_rows(engine))[1]["action"] == "delete"


async def test_revert_refuses_when_the_row_changed_since(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    await edit_note(client, open_form, "first")
    await edit_note(client, open_form, "second")
    first = (await audit_rows(engine))[0]
    response = await post(client, f"/activity/{first['id']}/revert")
    assert response.status == 409
    page = await response.text()
    assert "changed again since this change" in page
    assert re.search(r"<td>first</td>.*<td>second</td>", page, re.S)
    assert (await item(engine))["note"] == "second"
    assert len(await audit_rows(engine)) == 2


async def test_revert_of_a_delete_refuses_when_the_key_exists_again(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    form = await open_form(client, "/t/items/r/1/delete")
    assert (await form.submit(client)).status == 303
    [deleted] = await audit_rows(engine)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO items (id, note) VALUES (1, 'again')"))
    response = await post(client, f"/activity/{deleted['id']}/revert")
    assert response.status == 409
    assert "exists again" in await response.text()
    assert (await item(engine))["note"] == "again"
    assert len(await audit_rows(engine)) == 1


async def test_revert_of_a_create_refuses_when_the_row_changed(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    key = await create_item(client, open_form, "four")
    await edit_note(client, open_form, "edited", key=key)
    created = (await audit_rows(engine))[0]
    response = await post(client, f"/activity/{created['id']}/revert")
    assert response.status == 409
    page = await response.text()
    assert "changed since it was created" in page
    assert re.search(r"<th scope=\"row\">note</th><td>.*</td><td>edited", page)
    assert (await item(engine, key))["note"] == "edited"


async def test_revert_of_an_unknown_change_is_404(tables, make_client) -> None:
    client = await make_client(role="editor")
    assert (await client.get("/activity/999/revert")).status == 404
    assert (await client.get("/activity/abc/revert")).status == 400
    assert (await post(client, "/activity/999/revert")).status == 404


# --- history and activity ---------------------------------------------------------------------


async def test_record_page_shows_history_newest_first_with_revert_for_editors(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    await edit_note(client, open_form, "older")
    await edit_note(client, open_form, "newer")
    page = await (await client.get("/t/items/r/1")).text()
    history = page[page.index("<h2>History</h2>") :]
    assert re.findall(r"/activity/(\d+)/revert", history) == ["2", "1"]
    assert "newer" in history and "older" in history
    assert history.count(">Revert</a>") == 2
    assert "test-editor" in history
    viewer = await make_client(role="viewer")
    seen = await (await viewer.get("/t/items/r/1")).text()
    assert "newer" in seen and ">Revert</a>" not in seen


async def test_activity_page_filters_by_user_table_action_and_time(
    tables, make_client, engine: AsyncEngine, open_form
) -> None:
    client = await make_client(role="editor")
    await edit_note(client, open_form, "by editor")
    form = await open_form(client, "/t/items/r/1/delete")
    assert (await form.submit(client)).status == 303
    page = await (await client.get("/activity")).text()
    assert page.count('class="a-') == 2
    assert (await (await client.get("/activity?action=delete")).text()).count('class="a-') == 1
    assert "by editor" in await (await client.get("/activity?action=update")).text()
    assert 'class="a-' not in await (await client.get("/activity?user=nobody")).text()
    assert (await (await client.get("/activity?user=test-editor")).text()).count('class="a-') == 2
    assert 'class="a-' not in await (await client.get("/activity?table=other")).text()
    today = dt.datetime.now(dt.UTC).date()
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert 'class="a-' not in await (await client.get(f"/activity?since={tomorrow}")).text()
    page = await (await client.get(f"/activity?until={today.isoformat()}")).text()
    assert page.count('class="a-') == 2
    bad = await client.get("/activity?since=yesterday")
    assert bad.status == 400
    assert "since must be a date" in await bad.text()
    assert (await client.get("/activity?action=drop")).status == 400


async def test_activity_page_filters_a_table_whose_name_starts_with_a_space(
    make_client, engine: AsyncEngine, open_form
) -> None:
    name = " padded"  # MySQL allows a leading space only
    metadata = MetaData()
    padded = Table(name, metadata, Column("id", Integer, primary_key=True, autoincrement=False))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(padded).values(id=1))
    client = await make_client()
    form = await open_form(client, f"{record_url(name, ['1'])}/delete")
    assert (await form.submit(client)).status == 303
    page = await (await client.get("/activity?" + urlencode({"table": name}))).text()
    assert page.count('class="a-') == 1
    assert f'<option value="{name}" selected>{name}</option>' in page
    assert 'class="a-' not in await (await client.get("/activity?table=padded")).text()


async def test_activity_pages_by_entry_number(
    tables, make_client, engine: AsyncEngine, open_form, monkeypatch
) -> None:
    from webapp.views import history

    monkeypatch.setattr(history, "ACTIVITY_PAGE_SIZE", 2)
    client = await make_client(role="editor")
    for note in ("one", "two", "three"):
        await edit_note(client, open_form, note)
    page = await (await client.get("/activity")).text()
    assert page.count('class="a-') == 2
    older = re.search(r'href="(/activity\?before=\d+)">Older', page).group(1)
    rest = await (await client.get(older)).text()
    assert rest.count('class="a-') == 1 and "&gt;Older" not in rest and ">Older<" not in rest
