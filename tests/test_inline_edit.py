"""Editing one value from the table page on every backend: the /cell endpoint (the record
form's parsing, a lost update answered 409 with the value now held, the audit entry, the
write gate and column rules, CSRF), and the links a page without script gets instead
(for those who may write, on editable columns only, opening the form on that field)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import form_token
from webapp.settings import table_options

METADATA = MetaData()
CUSTOMERS = Table(
    "customers",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), nullable=False),
)
TICKETS = Table(
    "tickets",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", String(40), nullable=False),
    Column("qty", Integer, nullable=True),
    Column("done", Boolean, nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=True),
    Column("code", String(10), nullable=True),
)
EDITABLE = ["title", "qty", "done", "customer_id", "code"]


@pytest.fixture
async def tickets(engine: AsyncEngine) -> Table:
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
        await conn.execute(insert(CUSTOMERS), [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bob"}])
        await conn.execute(
            insert(TICKETS),
            [
                {"id": i, "title": f"Ticket {i}", "qty": i, "done": False, "customer_id": 1}
                for i in range(1, 6)
            ],
        )
    return TICKETS


async def ticket(engine: AsyncEngine, key: int = 1) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(TICKETS).where(TICKETS.c.id == key))).mappings().one()
    return dict(row)


async def audit_entries(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM webapp_audit_log ORDER BY id"))
        return [dict(row._mapping) for row in rows]


async def opened(client, column: str, key: int = 1) -> dict[str, Any]:
    response = await client.get(f"/t/tickets/r/{key}/cell?column={column}")
    document = await response.json()
    assert response.status == 200, document
    return document


async def save(client, column: str, value: str, *, key: int = 1, version=None, **extra):
    """POST as static/inline.js does: the form's token, the version it opened, the value."""
    if version is None:
        version = (await opened(client, column, key))["version"]
    data = {"csrf_token": await form_token(client, "/t/tickets"), "version": version}
    data.update(value=value, **extra)
    return await client.post(f"/t/tickets/r/{key}/cell?column={column}", data=data)


async def test_opening_a_cell_gives_the_form_field_and_the_row_version(
    tickets, make_client
) -> None:
    client = await make_client(role="editor")
    title = await opened(client, "title")
    assert (title["widget"], title["text"], title["null"], title["nullable"]) == (
        "text",
        "Ticket 1",
        False,
        False,
    )
    assert re.fullmatch(r"[0-9a-f]{64}", title["version"])
    assert title["maxlength"] == 40
    done = await opened(client, "done")
    assert done["widget"] == "bool" and done["options"] == [["1", "true"], ["0", "false"]]
    customer = await opened(client, "customer_id")
    assert customer["widget"] == "select"
    assert customer["options"] == [["1", "1 — Ada"], ["2", "2 — Bob"]]


async def test_saving_writes_the_value_and_one_audit_entry(
    tickets, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    response = await save(client, "title", "Renamed <b>")
    answer = await response.json()
    assert response.status == 200, answer
    assert answer["saved"] is True and answer["message"] == "Saved title."
    assert answer["html"] == "Renamed &lt;b&gt;" and answer["text"] == "Renamed <b>"
    assert (await ticket(engine))["title"] == "Renamed <b>"
    [entry] = await audit_entries(engine)
    assert (entry["action"], entry["table_name"], entry["username"]) == (
        "update",
        "tickets",
        "test-editor",
    )
    assert json.loads(entry["old_values"])["title"] == {"t": "str", "v": "Ticket 1"}
    assert json.loads(entry["new_values"])["title"] == {"t": "str", "v": "Renamed <b>"}
    assert entry["change_set_id"] is None  # a single edit, as the record form makes
    # The new version is the one the next save must name.
    again = await save(client, "qty", "42", version=answer["version"])
    assert again.status == 200, await again.text()
    assert (await ticket(engine))["qty"] == 42


async def test_an_unchanged_value_writes_nothing(tickets, make_client, engine: AsyncEngine) -> None:
    client = await make_client(role="editor")
    response = await save(client, "title", "Ticket 1")
    answer = await response.json()
    assert response.status == 200 and answer["saved"] is False
    assert await audit_entries(engine) == []


async def test_a_value_the_column_cannot_hold_is_the_form_fields_error(
    tickets, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    before = await ticket(engine)
    response = await save(client, "qty", "twelve")
    answer = await response.json()
    assert response.status == 400
    assert "whole number" in answer["error"]
    response = await save(client, "done", "maybe")
    assert response.status == 400 and (await response.json())["error"] == "Choose true or false."
    response = await save(client, "customer_id", "99")
    assert (await response.json())["error"] == "Choose one of the listed rows."
    assert await ticket(engine) == before and await audit_entries(engine) == []


async def test_null_foreign_keys_and_booleans_go_through_the_form_parsers(
    tickets, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    answer = await (await save(client, "qty", "", null="1")).json()
    assert answer["html"] == '<span class="null">NULL</span>' and answer["class"] == "null"
    answer = await (await save(client, "code", "", null="1")).json()
    assert answer["null"] is True
    answer = await (await save(client, "done", "1")).json()
    assert answer["html"] == '<span class="v-bool">true</span>'
    answer = await (await save(client, "customer_id", "2")).json()
    assert answer["html"] == '<a href="/t/customers/r/2">Bob</a> <span class="fk-key">2</span>'
    row = await ticket(engine)
    assert (row["qty"], row["code"], row["done"], row["customer_id"]) == (None, None, True, 2)


async def test_a_lost_update_is_409_with_the_value_held_now(
    tickets, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    version = (await opened(client, "title"))["version"]
    async with engine.begin() as conn:
        await conn.execute(update(TICKETS).where(TICKETS.c.id == 1).values(title="Theirs"))
    response = await save(client, "title", "Mine", version=version)
    answer = await response.json()
    assert response.status == 409, answer
    assert "changed this row since you began" in answer["error"]
    assert answer["current"]["text"] == "Theirs" and answer["current"]["html"] == "Theirs"
    assert answer["version"] != version
    assert (await ticket(engine))["title"] == "Theirs" and await audit_entries(engine) == []
    # Saving again on purpose names the version the conflict showed.
    retry = await save(client, "title", "Mine", version=answer["version"])
    assert retry.status == 200
    assert (await ticket(engine))["title"] == "Mine"
    # A row deleted before the save is a 404 that says so.
    async with engine.begin() as conn:
        await conn.execute(TICKETS.delete().where(TICKETS.c.id == 2))
    gone = await save(client, "title", "x", key=2, version=answer["version"])
    assert gone.status == 404
    assert "record" in (await gone.json())["error"].lower()


async def test_who_may_edit_which_cells(tickets, make_client, engine: AsyncEngine) -> None:
    before = await ticket(engine)
    viewer = await make_client(role="viewer")
    response = await viewer.get("/t/tickets/r/1/cell?column=title")
    assert response.status == 403
    assert "can view records but not change them" in (await response.json())["error"]
    response = await save(viewer, "title", "x", version="0" * 64)
    assert response.status == 403
    rules = {
        "tickets": {
            "read_only_columns": ["code"],
            "roles": {"editor": {"hidden_columns": ["qty"]}},
        }
    }
    editor = await make_client(role="editor", tables=table_options(rules))
    response = await save(editor, "code", "x", version="0" * 64)
    assert response.status == 403
    assert (await response.json())["error"] == "The column 'code' is read-only."
    assert (await editor.get("/t/tickets/r/1/cell?column=qty")).status == 404
    assert (await editor.get("/t/tickets/r/1/cell?column=nope")).status == 404
    response = await editor.get("/t/tickets/r/1/cell?column=id")
    assert response.status == 400 and "record's form" in (await response.json())["error"]
    read_only = await make_client(
        role="editor", tables=table_options({"tickets": {"read_only": True}})
    )
    assert (await read_only.get("/t/tickets/r/1/cell?column=title")).status == 403
    assert await ticket(engine) == before and await audit_entries(engine) == []


async def test_a_save_needs_the_sessions_token(tickets, make_client, engine: AsyncEngine) -> None:
    client = await make_client(role="editor")
    version = (await opened(client, "title"))["version"]
    path = "/t/tickets/r/1/cell?column=title"
    response = await client.post(path, data={"version": version, "value": "x"})
    assert response.status == 403
    response = await client.post(
        path, data={"csrf_token": "wrong", "version": version, "value": "x"}
    )
    assert response.status == 403
    response = await client.post(
        path,
        data={
            "csrf_token": await form_token(client, "/t/tickets"),
            "value": "x",
            "version": version,
        },
        headers={"Origin": "https://elsewhere.example"},
    )
    assert response.status == 403
    assert (await ticket(engine))["title"] == "Ticket 1" and await audit_entries(engine) == []


def edit_links(body: str) -> list[tuple[str, str]]:
    """The (record key, column) of every cell's link to the record form."""
    return re.findall(r'<a class="edit-cell" href="/t/tickets/r/(\d+)/edit\?focus=(\w+)"', body)


async def test_without_script_editable_cells_link_to_the_form_on_their_field(
    tickets, make_client
) -> None:
    rules = {"tickets": {"read_only_columns": ["code"]}}
    editor = await make_client(role="editor", tables=table_options(rules))
    page = await (await editor.get("/t/tickets")).text()
    assert edit_links(page) == []  # the plain page stays lean
    assert 'href="/t/tickets?edit=1">Edit cells</a>' in page
    assert 'data-edit=\'[null, "title", "qty", "done", "customer_id", null]\'' in page
    page = await (await editor.get("/t/tickets?edit=1&sort=-id")).text()
    links = edit_links(page)
    assert links == [(str(key), column) for key in range(5, 0, -1) for column in EDITABLE[:-1]]
    assert '<td class="n">5 <a class="edit-cell" href="/t/tickets/r/5/edit?focus=qty"' in page
    assert 'aria-label="Edit title">✎</a></td>' in page
    assert "Done editing cells" in page and 'href="/t/tickets?sort=-id">Done' in page
    # The view keeps the links while paging and sorting.
    assert re.search(r'href="/t/tickets\?sort=id&amp;edit=1"', page)
    form = await (await editor.get("/t/tickets/r/3/edit?focus=qty")).text()
    assert len(re.findall(r"autofocus", form)) == 1
    assert re.search(r'<input type="text" id="c2" name="c2" value="3" autofocus', form)
    viewer = await make_client(role="viewer")
    page = await (await viewer.get("/t/tickets?edit=1")).text()
    assert edit_links(page) == [] and "Edit cells" not in page and "data-edit" not in page
