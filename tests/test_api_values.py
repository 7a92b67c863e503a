"""Every value of the hostile corpus round-trips through the JSON API exactly: a record
read and sent back unchanged (PATCH with its own values) writes nothing, and one record's
values written over another's read back the same, for every value kind on each backend."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import backends_under_test
from tests.hostile_corpus import CORPUS, arrange, corpus_class

# The fields the record form does not offer either: not values this test can send back.
NOT_SETTABLE = ("This column is read-only.", "A record's key is not changed here.")


def cases() -> list[Any]:
    backends = backends_under_test()
    return [
        pytest.param(backend, item.name, id=f"{backend}-{item.name}")
        for backend, classes in CORPUS.items()
        if backend in backends
        for item in classes
    ]


async def records(client, href: str) -> tuple[list[str], set[str], dict[str, dict]]:
    """Every record link of a table, page after page, its JSON columns, and each record's
    values as the page gave them."""
    links: list[str] = []
    listed: dict[str, dict] = {}
    page_link: str | None = href + "?size=500"
    json_columns: set[str] = set()
    while page_link:
        response = await client.get(page_link)
        assert response.status == 200, (page_link, await response.text())
        page = await response.json()
        links += [row["_href"] for row in page["rows"] if "_href" in row]
        listed.update({row.pop("_href"): row for row in page["rows"] if "_href" in row})
        json_columns |= {c["name"] for c in page["columns"] if c["family"] == "json"}
        page_link = page["links"]["next"]
    return links, json_columns, listed


async def settable(client, href: str, values: dict[str, Any], etag: str) -> dict[str, Any]:
    """`values` less the columns the form would not let one set for this record (found by
    asking: the API names each such field); any other refusal fails the test."""
    body = dict(values)
    response = await client.patch(href, json=body, headers={"If-Match": etag})
    if response.status == 400:
        problem = await response.json(content_type="application/problem+json")
        for error in problem.get("errors", []):
            if "database" in error["message"].lower():
                continue  # a refusal of this write (a unique key), not of the value
            assert error["message"] in NOT_SETTABLE, (href, error, values.get(error["field"]))
            body.pop(error["field"], None)
    else:
        assert response.status == 200, (href, await response.text())
    return body


def as_doubles(document: Any) -> Any:
    """A document as a JSON reader with IEEE doubles holds it (every number a float)."""
    if isinstance(document, dict):
        return {key: as_doubles(value) for key, value in document.items()}
    if isinstance(document, list):
        return [as_doubles(value) for value in document]
    if isinstance(document, int | float) and not isinstance(document, bool):
        return float(document)
    return document


async def audit_count(client) -> int:
    return len((await (await client.get("/api/activity")).json())["entries"])


@pytest.mark.parametrize(("backend", "corpus_name"), cases())
async def test_values_round_trip_through_the_api(
    backend: str, corpus_name: str, engine: AsyncEngine, make_client
) -> None:
    await arrange(engine, corpus_class(backend, corpus_name))
    client = await make_client()
    token = await (await client.get("/account/password")).text()
    csrf = token.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.session.headers["X-CSRF-Token"] = csrf
    index = await (await client.get("/api/")).json()
    checked = 0
    for table in index["tables"]:
        if not table["primary_key"]:
            continue
        reads: list[tuple[str, dict[str, Any], str]] = []
        links, json_columns, listed = await records(client, table["href"])
        for href in links:
            response = await client.get(href)
            assert response.status == 200, (href, await response.text())
            document = await response.json()
            assert listed[href] == document["values"], href  # a page's rows say the same
            reads.append((href, document["values"], response.headers["ETag"]))
        before = await audit_count(client)
        sendable = []
        for href, values, etag in reads:
            # JSON documents are compared as documents below: PostgreSQL's `json` keeps
            # its exact text (duplicate keys, digits), which a parsed document does not.
            plain = {name: value for name, value in values.items() if name not in json_columns}
            body = await settable(client, href, plain, etag)
            response = await client.patch(href, json=body, headers={"If-Match": etag})
            assert response.status == 200, (href, body, await response.text())
            assert response.headers["ETag"] == etag, (href, body)
            assert (await response.json())["values"] == values
            sendable.append((href, body))
            checked += 1
        assert await audit_count(client) == before, table["name"]  # nothing was written
        for href, values, _ in reads:
            documents = {
                name: value
                for name, value in values.items()
                if name in json_columns and value is not None  # null is SQL NULL when sent
            }
            if documents:
                etag = (await client.get(href)).headers["ETag"]
                response = await client.patch(href, json=documents, headers={"If-Match": etag})
                assert response.status == 200, (href, documents, await response.text())
                assert as_doubles((await response.json())["values"]) == as_doubles(values)
        # One record's values over another's (where the database accepts them): read back
        # exactly as sent.
        for (href, _), (_, body) in itertools.pairwise(sendable):
            etag = (await client.get(href)).headers["ETag"]
            body = await settable(client, href, body, etag)  # this record's own rules
            etag = (await client.get(href)).headers["ETag"]
            response = await client.patch(href, json=body, headers={"If-Match": etag})
            if response.status == 400:
                problem = await response.json(content_type="application/problem+json")
                assert "database" in problem["detail"].lower(), (href, body, problem)
                continue
            assert response.status == 200, (href, body, await response.text())
            stored = (await (await client.get(href)).json())["values"]
            assert {name: stored[name] for name in body} == body, href
    assert checked or not index["tables"]
