"""Bulk actions on every backend: checkboxes for those who may change rows, the confirmation
page's exact count and sentence, delete and set by chosen rows and by the whole view, the
edit form's parsing and column rules, lost updates on chosen rows, a view that changed, the
row limit, rows referenced by other tables; every refusal changes nothing."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.test_change_sets import log_rows, orders_table, small_batches, table_rows  # noqa: F401
from webapp.settings import TableOptions

ROWS = 30


@pytest.fixture
async def orders(engine: AsyncEngine) -> Table:
    metadata = MetaData()
    table = orders_table(metadata)
    lines = Table(
        "lines",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(table),
            [
                {"id": i, "status": "open" if i % 3 else "paid", "amount": i * 10, "note": "x"}
                for i in range(1, ROWS + 1)
            ],
        )
        await conn.execute(insert(lines), [{"id": 1, "order_id": 3}, {"id": 2, "order_id": 3}])
    return table


def confirm_fields(body: str) -> list[tuple[str, str]]:
    """The confirmation form's fields, as a browser would post them."""
    form = body[body.index('<form class="actions" method="post"') :]
    form = form[: form.index("</form>")]
    return [
        (unescape(name), unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    ]


async def confirm(client, query: str) -> tuple[str, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    response = await client.get("/t/orders/bulk?" + query)
    body = await response.text()
    assert response.status == 200, body
    return body, confirm_fields(body)


async def submit(client, fields: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    return await client.post("/t/orders/bulk", data=fields, allow_redirects=False)


async def test_editors_get_checkboxes_and_viewers_none(orders, make_client) -> None:
    editor = await make_client(role="editor")
    page = await (await editor.get("/t/orders")).text()
    assert page.count('name="key" form="bulk"') == ROWS
    assert 'value="7" aria-label="Choose this row"' in page
    assert 'id="bulk"' in page and "/static/bulk.js" in page
    viewer = await make_client(role="viewer")
    page = await (await viewer.get("/t/orders")).text()
    assert 'name="key"' not in page and 'id="bulk"' not in page
    response = await viewer.get("/t/orders/bulk?action=delete&key=1")
    assert response.status == 403


async def test_delete_chosen_rows_is_one_change_set(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    body, fields = await confirm(client, "action=delete&key=1&key=2&key=999")
    assert "Delete 2 rows of orders?" in body
    assert "999" in body and "no longer exist" in body
    response = await submit(client, fields)
    assert response.status == 303, await response.text()
    rows = await table_rows(engine, orders)
    assert 1 not in rows and 2 not in rows and len(rows) == ROWS - 2
    [change_set] = await log_rows(engine, "change_sets")
    assert (change_set["action"], change_set["row_count"]) == ("delete", 2)
    assert response.headers["Location"] == f"/activity/sets/{change_set['id']}"


async def test_set_a_column_on_every_row_the_view_finds(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    before = await table_rows(engine, orders)
    body, fields = await confirm(
        client, "status__exact=open&scope=all&action=set&column=amount&value=+7+"
    )
    assert "Set amount =  7  on 20 rows of orders?" in body
    response = await submit(client, fields)
    assert response.status == 303, await response.text()
    rows = await table_rows(engine, orders)
    for key, row in rows.items():
        assert row[2] == (7 if before[key][1] == "open" else before[key][2])
    [change_set] = await log_rows(engine, "change_sets")
    assert change_set["row_count"] == 20
    assert change_set["source"].startswith("every row where status")


async def test_set_null_where_the_column_allows_it_and_refuse_where_not(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    _, fields = await confirm(client, "action=set&column=note&value_null=1&key=4&key=5")
    assert (await submit(client, fields)).status == 303
    rows = await table_rows(engine, orders)
    assert rows[4][3] is None and rows[5][3] is None and rows[6][3] == "x"
    response = await client.get("/t/orders/bulk?action=set&column=status&value_null=1&key=4")
    assert response.status == 400


async def test_a_value_the_column_cannot_hold_is_a_400_and_changes_nothing(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    before = await table_rows(engine, orders)
    response = await client.get("/t/orders/bulk?action=set&column=amount&value=abc&scope=all")
    assert response.status == 400
    assert "amount" in await response.text()
    response = await client.get("/t/orders/bulk?action=set&column=id&value=1&key=1")
    assert response.status == 400
    _, fields = await confirm(client, "action=set&column=amount&value=1&key=1")
    fields = [(n, "abc" if n == "value" else v) for n, v in fields]
    assert (await submit(client, fields)).status == 400
    assert await table_rows(engine, orders) == before
    assert await log_rows(engine, "change_sets") == []


async def test_a_chosen_row_changed_since_the_confirmation_is_a_409(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    _, fields = await confirm(client, "action=delete&key=1&key=2")
    async with engine.begin() as conn:
        await conn.execute(update(orders).where(orders.c.id == 2).values(amount=1))
    before = await table_rows(engine, orders)
    response = await submit(client, fields)
    assert response.status == 409
    assert "changed or went since" in await response.text()
    assert await table_rows(engine, orders) == before
    assert await log_rows(engine, "change_sets") == []


async def test_a_view_that_now_finds_more_rows_is_a_409(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    _, fields = await confirm(client, "status__exact=open&scope=all&action=delete")
    async with engine.begin() as conn:
        await conn.execute(insert(orders).values(id=100, status="open", amount=1))
    before = await table_rows(engine, orders)
    response = await submit(client, fields)
    assert response.status == 409
    assert "now finds 21 rows, not the 20" in await response.text()
    assert await table_rows(engine, orders) == before


async def test_more_rows_than_bulk_max_rows_is_refused_with_how_to_narrow(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor", bulk_max_rows=10)
    response = await client.get("/t/orders/bulk?scope=all&action=delete")
    assert response.status == 400
    body = await response.text()
    assert "finds 30 rows" in body and "at most 10" in body and "Narrow" in body
    assert len(await table_rows(engine, orders)) == ROWS


async def test_rows_referenced_elsewhere_are_named_and_the_delete_changes_nothing(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    body, fields = await confirm(client, "action=delete&key=2&key=3")
    assert "2 rows of lines (via order_id) refer to these rows" in body
    response = await submit(client, fields)
    assert response.status == 409
    assert "refused" in await response.text()
    assert len(await table_rows(engine, orders)) == ROWS
    assert await log_rows(engine, "change_sets") == []


async def test_column_rules_apply_as_for_single_edits(
    orders, make_client, engine: AsyncEngine
) -> None:
    options = {"orders": TableOptions(read_only_columns=frozenset({"note"}))}
    client = await make_client(role="editor", tables=options)
    page = await (await client.get("/t/orders")).text()
    assert "<option>amount</option>" in page and "<option>note</option>" not in page
    response = await client.get("/t/orders/bulk?action=set&column=note&value=y&key=1")
    assert response.status == 403
    assert (await table_rows(engine, orders))[1][3] == "x"


async def test_without_a_choice_the_form_says_what_to_do(orders, make_client) -> None:
    client = await make_client(role="editor")
    response = await client.get("/t/orders/bulk?action=delete")
    assert response.status == 400
    assert "Choose some rows" in await response.text()
    assert (await client.get("/t/orders/bulk?action=drop&key=1")).status == 400
