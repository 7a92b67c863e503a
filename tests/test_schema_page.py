"""The schema pages on every backend: what they list (columns, defaults, generated columns,
the primary key, indexes, unique and CHECK constraints, foreign keys out and in) is what
SQLAlchemy's inspection of the database reports; the DDL is the database's; role rules
hold."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.settings import table_options

metadata = MetaData()
Table(
    "authors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(80), nullable=False),
    Column("country", String(2), server_default="NL"),
    Column("secret", String(20)),
    UniqueConstraint("email", name="uq_authors_email"),
)
Table(
    "books",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column(
        "author_id",
        Integer,
        ForeignKey("authors.id", name="fk_books_author", ondelete="CASCADE"),
    ),
    Column("title", String(100), nullable=False),
    Column("pages", Integer),
    Column("double_pages", Integer, Computed("pages * 2", persisted=True)),
    CheckConstraint("pages > 0", name="ck_books_pages"),
    Index("ix_books_title", "title"),
    Index("ix_books_author_pages", "author_id", "pages", unique=True),
)
HIDE_SECRET = table_options({"authors": {"roles": {"viewer": {"hidden_columns": ["secret"]}}}})


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    async with module_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return await module_client(tables=HIDE_SECRET)


async def reported(engine: AsyncEngine, table: str) -> dict[str, Any]:
    """What SQLAlchemy's inspection says of `table`."""

    def read(conn: Any) -> dict[str, Any]:
        inspector = inspect(conn)
        return {
            "columns": inspector.get_columns(table),
            "pk": inspector.get_pk_constraint(table),
            "indexes": inspector.get_indexes(table),
            "uniques": inspector.get_unique_constraints(table),
            "checks": inspector.get_check_constraints(table),
            "fks": inspector.get_foreign_keys(table),
        }

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def document(client, path: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.mark.parametrize("table", ["authors", "books"])
async def test_the_schema_lists_what_the_database_reports(
    client, module_engine: AsyncEngine, table: str
) -> None:
    found = await document(client, f"/api/t/{table}/schema")
    want = await reported(module_engine, table)
    assert [c["name"] for c in found["columns"]] == [c["name"] for c in want["columns"]]
    for got, column in zip(found["columns"], want["columns"], strict=True):
        assert got["nullable"] == column["nullable"]
        computed = column.get("computed")
        assert got["generated"] == (str(computed["sqltext"]) if computed else None)
        default = None if computed or column.get("default") is None else str(column["default"])
        assert got["default"] == default
    assert found["primary_key"]["columns"] == want["pk"]["constrained_columns"] == ["id"]
    assert sorted(
        (i["name"], tuple(i["columns"]), i["unique"]) for i in found["indexes"]
    ) == sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in want["indexes"])
    assert sorted((u["name"], tuple(u["columns"])) for u in found["unique_constraints"]) == sorted(
        (u["name"], tuple(u["column_names"])) for u in want["uniques"]
    )
    assert sorted((c["name"], c["sql"]) for c in found["check_constraints"]) == sorted(
        (c["name"], str(c["sqltext"])) for c in want["checks"]
    )
    assert sorted(
        (k["name"], tuple(k["columns"]), k["table"], tuple(k["target_columns"]))
        for k in found["foreign_keys"]
    ) == sorted(
        (
            k["name"],
            tuple(k["constrained_columns"]),
            k["referred_table"],
            tuple(k["referred_columns"]),
        )
        for k in want["fks"]
    )


async def test_the_expected_keys_and_constraints_are_there(client) -> None:
    books = await document(client, "/api/t/books/schema")
    assert "ix_books_title" in {i["name"] for i in books["indexes"]}
    assert ("ix_books_author_pages", True) in {(i["name"], i["unique"]) for i in books["indexes"]}
    assert [c["name"] for c in books["check_constraints"]] == ["ck_books_pages"]
    assert "pages" in books["check_constraints"][0]["sql"]
    assert [k["name"] for k in books["foreign_keys"]] == ["fk_books_author"]
    assert books["foreign_keys"][0]["on_delete"] == "CASCADE"
    generated = {c["name"]: c["generated"] for c in books["columns"]}
    assert "pages" in generated["double_pages"]
    authors = await document(client, "/api/t/authors/schema")
    assert authors["referenced_by"] == [
        {
            "table": "books",
            "columns": ["author_id"],
            "target_columns": ["id"],
            "on_delete": "CASCADE",
            "href": "/t/books/schema",
        }
    ]
    assert "NL" in {c["name"]: c["default"] for c in authors["columns"]}["country"]


async def test_the_page_shows_the_database_ddl(client) -> None:
    page = await (await client.get("/t/books/schema")).text()
    for text in ("ix_books_title", "ck_books_pages", "fk_books_author", "double_pages"):
        assert text in page
    assert "CREATE TABLE" in page
    ddl = (await document(client, "/api/t/books/schema"))["ddl"]
    assert "CREATE TABLE" in ddl and "ix_books_title" in ddl and "ck_books_pages" in ddl
    table_page = await (await client.get("/t/books")).text()
    assert 'href="/t/books/schema"' in table_page


async def test_every_table_on_one_page(client) -> None:
    everything = await document(client, "/api/schema")
    assert [t["name"] for t in everything["tables"]] == ["authors", "books"]
    assert all(t["ddl"] is None for t in everything["tables"])
    page = await (await client.get("/schema")).text()
    assert 'href="/t/authors/schema"' in page and "uq_authors_email" in page


async def test_hidden_columns_are_absent_for_the_role(module_client, client) -> None:
    viewer = await module_client(role="viewer", tables=HIDE_SECRET)
    for path in ("/api/t/authors/schema", "/t/authors/schema", "/schema", "/api/schema"):
        response = await viewer.get(path)
        assert response.status == 200
        assert "secret" not in await response.text(), path
    authors = await document(viewer, "/api/t/authors/schema")
    assert authors["ddl"] is None and "hidden" in authors["ddl_note"]
    admin = await document(client, "/api/t/authors/schema")
    assert "secret" in admin["ddl"]


async def test_an_unknown_table_is_404(client) -> None:
    response = await client.get("/api/t/nothing/schema")
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert (await client.get("/t/nothing/schema")).status == 404
