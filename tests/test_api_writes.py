"""Writes through the JSON API: POST creates, PATCH and DELETE change, through the forms'
write gate, column rules, parsing and audit; the ETag / If-Match lost-update check (428,
412 with the current row); field-by-field problems; hidden columns never in a body, an
answer or a refusal; nothing written on any refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import database_checksum, form_token
from webapp.settings import TableOptions

PROBLEM = "application/problem+json"
RULES = {
    "items": TableOptions(
        hidden_columns=frozenset({"secret"}), read_only_columns=frozenset({"locked"})
    )
}


async def arrange(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE items (id VARCHAR(10) PRIMARY KEY, title VARCHAR(20) NOT NULL UNIQUE,"
                " qty INTEGER, price DECIMAL(8,2), flag BOOLEAN, locked VARCHAR(10),"
                " secret VARCHAR(10))"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO items VALUES ('1', 'one', 1, 1.50, TRUE, 'L', 's1'), ('2', 'two', 2,"
                " 2.50, FALSE, 'L', 's2')"
            )
        )
        await conn.execute(
            text(
                "CREATE TABLE parts (id INTEGER PRIMARY KEY, item_id VARCHAR(10) NOT NULL"
                " REFERENCES items(id))"
            )
        )
        await conn.execute(text("INSERT INTO parts VALUES (1, '2')"))


async def signed(make_client, engine: AsyncEngine, role: str = "editor"):
    await arrange(engine)
    client = await make_client(role=role, tables=RULES)
    token = await form_token(client, "/account/password")
    return client, {"X-CSRF-Token": token}


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    return await response.json(content_type=PROBLEM)


async def test_create_returns_201_with_location_etag_and_typed_values(make_client, engine):
    client, csrf = await signed(make_client, engine)
    response = await client.post(
        "/api/t/items",
        json={"id": "3", "title": "three", "qty": 3, "price": "3.25", "flag": True},
        headers=csrf,
    )
    assert response.status == 201, await response.text()
    assert response.headers["Location"] == "/api/t/items/r/3"
    document = await response.json()
    assert document["values"] == {
        "id": "3",
        "title": "three",
        "qty": 3,
        "price": "3.25",
        "flag": True,
        "locked": None,
    }
    read = await client.get("/api/t/items/r/3")
    assert read.headers["ETag"] == response.headers["ETag"]
    history = await (await client.get("/api/t/items/r/3/history")).json()
    assert history["entries"][0]["action"] == "create"
    assert "secret" not in {change["column"] for change in history["entries"][0]["changes"]}


async def test_validation_lists_every_field_and_writes_nothing(make_client, engine):
    client, csrf = await signed(make_client, engine)
    before = await database_checksum(engine)
    body = {
        "id": "4",
        "title": "x" * 21,
        "qty": "many",
        "price": True,
        "locked": "no",
        "secret": "peek",
        "nope": 1,
    }
    document = await problem(await client.post("/api/t/items", json=body, headers=csrf), 400)
    fields = {error["field"]: error["message"] for error in document["errors"]}
    assert set(fields) == {"title", "qty", "price", "locked", "secret", "nope"}
    assert fields["secret"] == fields["nope"] == "No such column."  # hidden looks unknown
    assert fields["locked"] == "This column is read-only."
    assert "20" in fields["title"]
    assert await database_checksum(engine) == before


async def test_bad_bodies_are_problems(make_client, engine):
    client, csrf = await signed(make_client, engine)
    await problem(
        await client.post(
            "/api/t/items", data="{", headers={**csrf, "Content-Type": "application/json"}
        ),
        400,
    )
    await problem(await client.post("/api/t/items", json=[1], headers=csrf), 400)
    await problem(
        await client.post(
            "/api/t/items",
            data="id=1",
            headers={**csrf, "Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
    )
    await problem(
        await client.post(
            "/api/t/items",
            data=b"{" * 2_000_000,
            headers={**csrf, "Content-Type": "application/json"},
        ),
        413,
    )


async def test_patch_needs_if_match_and_refuses_a_stale_one(make_client, engine):
    client, csrf = await signed(make_client, engine)
    before = await database_checksum(engine)
    read = await client.get("/api/t/items/r/1")
    etag = read.headers["ETag"]
    await problem(await client.patch("/api/t/items/r/1", json={"qty": 5}, headers=csrf), 428)
    stale = '"' + "0" * 64 + '"'
    document = await problem(
        await client.patch(
            "/api/t/items/r/1", json={"qty": 5}, headers={**csrf, "If-Match": stale}
        ),
        412,
    )
    assert document["current"]["qty"] == 1 and document["etag"] == etag
    assert "secret" not in document["current"]
    await problem(await client.delete("/api/t/items/r/1", headers=csrf), 428)
    await problem(await client.delete("/api/t/items/r/1", headers={**csrf, "If-Match": stale}), 412)
    assert await database_checksum(engine) == before

    changed = await client.patch(
        "/api/t/items/r/1", json={"qty": 5, "flag": None}, headers={**csrf, "If-Match": etag}
    )
    assert changed.status == 200, await changed.text()
    assert (await changed.json())["values"]["qty"] == 5
    assert changed.headers["ETag"] != etag
    # The old ETag no longer matches: the first writer's change is kept.
    await problem(
        await client.patch("/api/t/items/r/1", json={"qty": 9}, headers={**csrf, "If-Match": etag}),
        412,
    )
    again = await (await client.get("/api/t/items/r/1")).json()
    assert again["values"]["qty"] == 5 and again["values"]["flag"] is None
    key = await problem(
        await client.patch(
            "/api/t/items/r/1",
            json={"id": "7"},
            headers={**csrf, "If-Match": changed.headers["ETag"]},
        ),
        400,
    )
    assert key["errors"] == [{"field": "id", "message": "A record's key is not changed here."}]


async def test_database_refusals_name_the_field(make_client, engine):
    client, csrf = await signed(make_client, engine)
    before = await database_checksum(engine)
    etag = (await client.get("/api/t/items/r/1")).headers["ETag"]
    document = await problem(
        await client.patch(
            "/api/t/items/r/1", json={"title": "two"}, headers={**csrf, "If-Match": etag}
        ),
        400,
    )
    # The refusal is on the field when the database's message names it, else above.
    assert all(error["field"] == "title" for error in document["errors"])
    assert "The database said" in document["detail"] or document["errors"]
    etag2 = (await client.get("/api/t/items/r/2")).headers["ETag"]
    await problem(await client.delete("/api/t/items/r/2", headers={**csrf, "If-Match": etag2}), 409)
    assert await database_checksum(engine) == before


async def test_delete_is_204_and_audited(make_client, engine):
    client, csrf = await signed(make_client, engine)
    etag = (await client.get("/api/t/items/r/1")).headers["ETag"]
    response = await client.delete("/api/t/items/r/1", headers={**csrf, "If-Match": etag})
    assert response.status == 204
    await problem(await client.get("/api/t/items/r/1"), 404)
    activity = await (await client.get("/api/activity")).json()
    assert activity["entries"][0]["action"] == "delete"
    await problem(await client.delete("/api/t/items/r/1", headers={**csrf, "If-Match": "*"}), 404)


@pytest.mark.parametrize("role", ["viewer"])
async def test_viewers_cannot_write(make_client, engine, role: str):
    client, csrf = await signed(make_client, engine, role)
    before = await database_checksum(engine)
    await problem(
        await client.post("/api/t/items", json={"id": "9", "title": "n"}, headers=csrf), 403
    )
    await problem(
        await client.patch("/api/t/items/r/1", json={}, headers={**csrf, "If-Match": "*"}), 403
    )
    await problem(await client.delete("/api/t/items/r/1", headers={**csrf, "If-Match": "*"}), 403)
    assert await database_checksum(engine) == before


async def test_cookie_writes_need_the_csrf_token(make_client, engine):
    client, csrf = await signed(make_client, engine)
    before = await database_checksum(engine)
    etag = (await client.get("/api/t/items/r/1")).headers["ETag"]
    for method, path, body in (
        ("POST", "/api/t/items", {"id": "5", "title": "five"}),
        ("PATCH", "/api/t/items/r/1", {"qty": 7}),
        ("DELETE", "/api/t/items/r/1", None),
    ):
        response = await client.request(method, path, json=body, headers={"If-Match": etag})
        await problem(response, 403)
        wrong = {"If-Match": etag, "X-CSRF-Token": "not-the-token"}
        await problem(await client.request(method, path, json=body, headers=wrong), 403)
        other_site = {**csrf, "If-Match": etag, "Origin": "https://evil.example"}
        await problem(await client.request(method, path, json=body, headers=other_site), 403)
    assert await database_checksum(engine) == before
