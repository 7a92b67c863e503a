"""`?_trace=1` (and `X-Query-Trace: 1`) shows admins the statements a request ran; other
roles get the page unchanged."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def arrange(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE books (id INTEGER PRIMARY KEY, title VARCHAR(50))"))
        await conn.execute(text("INSERT INTO books VALUES (1, 'Dune'), (2, 'Emma')"))


async def test_admins_see_the_statements_a_page_ran(make_client, engine: AsyncEngine) -> None:
    await arrange(engine)
    client = await make_client()
    response = await client.get("/t/books?_trace=1&title__contains=Du")
    assert response.status == 200
    html = await response.text()
    trace = html.split('<section class="trace"', 1)[1]
    assert "books" in trace and "Dune" in html
    assert "%Du%" in trace  # the search's parameter
    count, _ = response.headers["X-Query-Trace"].split(" statements")
    assert int(count) >= 1
    assert trace.index("</section>") < trace.index("</main>")
    plain = await (await client.get("/t/books")).text()
    assert 'class="trace"' not in plain


async def test_account_parameters_stay_out_of_the_trace(make_client, engine: AsyncEngine) -> None:
    await arrange(engine)
    client = await make_client()
    html = await (await client.get("/admin/users?_trace=1")).text()
    assert "$argon2" not in html


async def test_json_answers_carry_the_trace_for_admins(make_client, engine: AsyncEngine) -> None:
    await arrange(engine)
    client = await make_client()
    response = await client.get("/t/books/lookup?q=Du", headers={"X-Query-Trace": "1"})
    assert response.status == 200
    assert "statements" in response.headers["X-Query-Trace"]


@pytest.mark.parametrize("role", ["viewer", "editor"])
async def test_other_roles_never_see_a_trace(make_client, engine: AsyncEngine, role: str) -> None:
    await arrange(engine)
    client = await make_client(role=role)
    response = await client.get("/t/books?_trace=1")
    assert response.status == 200
    assert 'class="trace"' not in await response.text()
    assert "X-Query-Trace" not in response.headers
    response = await client.get("/t/books/lookup?q=Du", headers={"X-Query-Trace": "1"})
    assert "X-Query-Trace" not in response.headers
