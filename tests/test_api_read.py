"""The JSON API's reads: the index, a table's pages (search, filters, sort, keyset cursor,
counts), a record with its references, history and activity, hidden columns left out, and
every error as application/problem+json, never HTML."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import form_token

PROBLEM = "application/problem+json"
HIDE_SECRET = {"tables": {}}


async def arrange(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE owners (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)")
        )
        await conn.execute(
            text(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES "
                "owners(id), title VARCHAR(60) NOT NULL, price DECIMAL(10,2), secret "
                "VARCHAR(20))"
            )
        )
        await conn.execute(text("INSERT INTO owners VALUES (1, 'Ann'), (2, 'Bob')"))
        for number in range(1, 31):
            await conn.execute(
                text("INSERT INTO items VALUES (:id, :owner, :title, :price, 'hush')"),
                {
                    "id": number,
                    "owner": 1 + number % 2,
                    "title": f"item {number:02d}",
                    "price": f"{number}.50",
                },
            )


@pytest.fixture(scope="module")
async def client(module_client, module_engine: AsyncEngine):
    await arrange(module_engine)
    return await module_client()


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    document = await response.json(content_type=PROBLEM)
    assert document["status"] == status and document["title"] and document["detail"]
    return document


async def test_index_lists_tables_with_counts(client) -> None:
    response = await client.get("/api/")
    assert response.status == 200
    assert response.content_type == "application/json"
    document = await response.json()
    names = {entry["name"]: entry for entry in document["tables"]}
    assert names["items"]["count"] == {"value": 30, "kind": "exact"}
    assert names["items"]["href"] == "/api/t/items"
    assert names["owners"]["primary_key"] == ["id"]


async def test_table_pages_walk_by_cursor_with_typed_values(client) -> None:
    document = await (await client.get("/api/t/items?size=10&sort=-id")).json()
    assert [row["id"] for row in document["rows"]] == list(range(30, 20, -1))
    first = document["rows"][0]
    assert first["price"] == "30.50" and first["owner_id"] == 1 and first["title"] == "item 30"
    assert first["_href"] == "/api/t/items/r/30"
    assert document["count"]["value"] == 30
    seen = [row["id"] for row in document["rows"]]
    link = document["links"]["next"]
    while link:
        assert link.startswith("/api/t/items?") and "cursor=" in link
        page = await (await client.get(link)).json()
        seen += [row["id"] for row in page["rows"]]
        link = page["links"]["next"]
    assert seen == list(range(30, 0, -1))
    back = await (await client.get(page["links"]["prev"])).json()
    assert [row["id"] for row in back["rows"]] == list(range(20, 10, -1))
    by_title = await (await client.get("/api/t/items?size=10&sort=title")).json()
    assert [row["title"] for row in by_title["rows"]][:2] == ["item 01", "item 02"]
    assert by_title["links"]["next"] == "/api/t/items?sort=title&size=10&page=2"


async def test_table_filters_and_search(client) -> None:
    document = await (await client.get("/api/t/items?owner_id__exact=2&q=item 1")).json()
    ids = [row["id"] for row in document["rows"]]
    assert ids and all(row["owner_id"] == 2 for row in document["rows"])
    assert all(row["title"].startswith("item 1") for row in document["rows"])
    assert document["count"] == {"value": len(ids), "kind": "exact"}


async def test_bad_filter_is_a_problem_listing_it(client) -> None:
    document = await problem(await client.get("/api/t/items?id__exact=abc"), 400)
    assert document["errors"] and document["errors"][0]["field"] == "filter"
    await problem(await client.get("/api/t/items?sort=nope"), 400)
    await problem(await client.get("/api/t/items?cursor=forged"), 400)


async def test_record_with_references_and_etag(client) -> None:
    response = await client.get("/api/t/owners/r/1")
    assert response.status == 200
    assert response.headers["ETag"].startswith('"')
    document = await response.json()
    assert document["values"] == {"id": 1, "name": "Ann"}
    (reference,) = document["referenced_by"]
    assert reference["table"] == "items" and reference["count"]["value"] == 15
    page = await (await client.get(reference["href"])).json()
    assert len(page["rows"]) == 15


async def test_errors_are_problems_never_html(client) -> None:
    await problem(await client.get("/api/t/nope"), 404)
    await problem(await client.get("/api/t/items/r/999"), 404)
    await problem(await client.get("/api/nothing/here"), 404)
    token = await form_token(client, "/account/password")
    response = await client.put("/api/t/items", headers={"X-CSRF-Token": token})
    await problem(response, 405)
    assert "GET" in response.headers["Allow"]
    await problem(await client.put("/api/t/items"), 403)  # a cookie's write needs the token


async def test_history_and_activity(client) -> None:
    document = await (await client.get("/api/t/items/r/1/history")).json()
    assert document["entries"] == [] and document["key"] == ["1"]
    document = await (await client.get("/api/activity")).json()
    assert document["entries"] == []


async def test_anonymous_is_401_not_a_redirect(module_client) -> None:
    anonymous = await module_client(role=None)
    for path in ("/api/", "/api/t/items", "/api/t/items/r/1", "/api/openapi.json"):
        document = await problem(await anonymous.get(path, allow_redirects=False), 401)
        assert "Bearer" in document["detail"]
    response = await anonymous.get("/api/", headers={"Authorization": "Basic abc"})
    await problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_trace_for_admins(client, module_client) -> None:
    response = await client.get("/api/t/items", headers={"X-Query-Trace": "1"})
    document = await response.json()
    assert any("items" in statement["sql"] for statement in document["_trace"])
    viewer = await module_client(role="viewer")
    document = await (await viewer.get("/api/t/items", headers={"X-Query-Trace": "1"})).json()
    assert "_trace" not in document


async def test_no_cors_headers_unless_configured(client) -> None:
    response = await client.get("/api/", headers={"Origin": "https://tools.example"})
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = await client.options(
        "/api/t/items",
        headers={"Origin": "https://tools.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_listed_origins_may_call_with_a_token(module_client) -> None:
    from webapp.settings import ApiSettings

    listed = await module_client(
        role=None, api=ApiSettings(cors_origins=frozenset({"https://tools.example"}))
    )
    origin = {"Origin": "https://tools.example"}
    preflight = await listed.options(
        "/api/t/items",
        headers={
            **origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, if-match",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://tools.example"
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    refused = await listed.get("/api/t/items", headers=origin)
    assert refused.status == 401  # the origin may ask; a token still decides
    assert refused.headers["Access-Control-Allow-Origin"] == "https://tools.example"
    other = await listed.get("/api/t/items", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
