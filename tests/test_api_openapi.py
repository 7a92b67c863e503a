"""`/api/openapi.json`: a valid OpenAPI 3.1 document of the caller's role's catalog, its
hidden tables and columns absent (from the document and from every JSON answer), its
write operations only where the role may write."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.settings import RoleRules, TableOptions

RULES = {
    "books": TableOptions(
        hidden_columns=frozenset({"cost"}),
        roles={"viewer": RoleRules(hidden_columns=frozenset({"isbn"}))},
    ),
    "ledger": TableOptions(roles={"viewer": RoleRules(hidden=True)}),
}


async def arrange(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE books (id INTEGER PRIMARY KEY, title VARCHAR(50) NOT NULL,"
                " isbn VARCHAR(20), cost DECIMAL(8,2), kind VARCHAR(10))"
            )
        )
        await conn.execute(text("INSERT INTO books VALUES (1, 'Dune', 'i-1', 9.99, 'novel')"))
        await conn.execute(text("CREATE TABLE ledger (id INTEGER PRIMARY KEY, total INTEGER)"))
        await conn.execute(text("INSERT INTO ledger VALUES (1, 100)"))
        await conn.execute(text("CREATE VIEW titles AS SELECT id, title FROM books"))


@pytest.fixture(scope="module")
async def clients(module_client, module_engine: AsyncEngine):
    await arrange(module_engine)
    return {role: await module_client(role=role, tables=RULES) for role in ("viewer", "editor")}


async def test_the_document_is_valid_openapi_31(clients) -> None:
    for client in clients.values():
        response = await client.get("/api/openapi.json")
        assert response.status == 200
        document = await response.json()
        assert document["openapi"].startswith("3.1")
        validate(document)


async def test_hidden_tables_and_columns_never_appear(clients) -> None:
    viewer = await (await clients["viewer"].get("/api/openapi.json")).json()
    editor = await (await clients["editor"].get("/api/openapi.json")).json()
    for document, absent in ((viewer, ("cost", "isbn", "ledger")), (editor, ("cost",))):
        flat = json.dumps(document)
        for name in absent:
            assert f'"{name}' not in flat and f"/{name}" not in flat, name
    assert "/api/t/ledger" in editor["paths"]
    books = next(s for s in editor["components"]["schemas"].values() if s.get("title") == "books")
    assert set(books["properties"]) == {"id", "title", "isbn", "kind"}
    assert books["properties"]["title"]["type"] == "string"
    assert books["properties"]["isbn"]["type"] == ["string", "null"]


async def test_operations_follow_what_the_role_may_do(clients) -> None:
    viewer = await (await clients["viewer"].get("/api/openapi.json")).json()
    editor = await (await clients["editor"].get("/api/openapi.json")).json()
    assert set(viewer["paths"]["/api/t/books"]) == {"get"}
    assert set(editor["paths"]["/api/t/books"]) == {"get", "post"}
    assert {"get", "patch", "delete"} <= set(editor["paths"]["/api/t/books/r/{key}"])
    assert "patch" not in viewer["paths"]["/api/t/books/r/{key}"]
    assert set(editor["paths"]["/api/t/titles"]) == {"get"}  # a view is read-only
    filters = {p["name"] for p in editor["paths"]["/api/t/books"]["get"]["parameters"]}
    assert {"q", "sort", "cursor", "title__contains", "id__gte"} <= filters


async def test_hidden_columns_are_absent_from_every_answer(clients) -> None:
    viewer = clients["viewer"]
    for path in ("/api/t/books", "/api/t/books/r/1"):
        flat = await (await viewer.get(path)).text()
        assert (
            "isbn" not in flat and "i-1" not in flat and "cost" not in flat and "9.99" not in flat
        )
    assert (await viewer.get("/api/t/ledger")).status == 404
    assert (await viewer.get("/api/t/books?isbn__exact=i-1")).status == 400
    assert (await viewer.get("/api/t/books?sort=cost")).status == 400
    index = await (await viewer.get("/api/")).text()
    assert "ledger" not in index
