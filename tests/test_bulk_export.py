"""Downloading the rows chosen on the table page (or every row its view finds) on every
backend: the table download's typed values for exactly those rows, hidden columns absent,
the view's filters honoured, for viewers too; bad selections refused with a sentence."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import orders_table, table_rows
from webapp.settings import table_options

ROWS = 30
# What the bulk bar's GET form sends besides the chosen keys: its other fields ride along.
FORM_FIELDS = "action=set&column=status&value="


@pytest.fixture
async def orders(engine: AsyncEngine) -> Table:
    from sqlalchemy import MetaData

    metadata = MetaData()
    table = orders_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(table),
            [
                {
                    "id": i,
                    "status": "open" if i % 3 else "paid",
                    "amount": i * 10,
                    "note": None if i % 5 == 0 else f"note, “{i}”\n",
                }
                for i in range(1, ROWS + 1)
            ],
        )
    return table


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def download(client, path: str) -> str:
    response = await client.get(path)
    body = await response.text()
    assert response.status == 200, body
    return body


async def test_editors_are_offered_downloads_of_the_chosen_rows(orders, make_client) -> None:
    page = await download(await make_client(role="editor"), "/t/orders")
    assert 'formaction="/t/orders/bulk.csv"' in page
    assert 'formaction="/t/orders/bulk.json"' in page


async def test_chosen_rows_as_csv_are_the_table_downloads_lines(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    response = await client.get(f"/t/orders/bulk.csv?scope=chosen&{FORM_FIELDS}&key=9&key=2&key=5")
    body = await response.text()
    assert response.status == 200, body
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "orders-selection.csv" in response.headers["Content-Disposition"]
    whole = csv_rows(await download(client, "/t/orders.csv"))
    chosen = csv_rows(body)
    assert chosen[0] == whole[0] == ["id", "status", "amount", "note"]
    assert chosen[1:] == [row for row in whole[1:] if row[0] in {"2", "5", "9"}]
    rows = await table_rows(engine, orders)
    assert [row[1:] for row in chosen[1:]] == [
        [rows[i][1], str(rows[i][2]), rows[i][3] or ""] for i in (2, 5, 9)
    ]


async def test_chosen_rows_as_json_keep_their_types_and_nulls(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    body = await download(client, "/t/orders/bulk.json?key=10&key=4&sort=-amount")
    rows = await table_rows(engine, orders)
    assert json.loads(body) == [
        {"id": i, "status": rows[i][1], "amount": rows[i][2], "note": rows[i][3]} for i in (10, 4)
    ]


async def test_every_row_the_view_finds_honours_its_filters_and_search(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    body = await download(
        client, f"/t/orders/bulk.json?scope=all&{FORM_FIELDS}&status__exact=open&amount__gt=100"
    )
    rows = await table_rows(engine, orders)
    expected = [i for i, row in rows.items() if row[1] == "open" and row[2] > 100]
    assert [row["id"] for row in json.loads(body)] == expected and len(expected) == 13
    # The whole view with no filter is every row, as the table download gives them.
    assert await download(client, "/t/orders/bulk.csv?scope=all") == await download(
        client, "/t/orders.csv"
    )


async def test_hidden_columns_are_not_in_the_download(orders, make_client) -> None:
    rules = {"orders": {"roles": {"editor": {"hidden_columns": ["note"]}}}}
    client = await make_client(role="editor", tables=table_options(rules))
    assert csv_rows(await download(client, "/t/orders/bulk.csv?key=1"))[0] == [
        "id",
        "status",
        "amount",
    ]
    [row] = json.loads(await download(client, "/t/orders/bulk.json?key=1&scope=chosen"))
    assert set(row) == {"id", "status", "amount"}
    # A filter on the hidden column is refused, not quietly applied.
    response = await client.get("/t/orders/bulk.csv?scope=all&note__exact=x")
    assert response.status in (400, 404)


async def test_viewers_may_download_what_they_see(orders, make_client) -> None:
    viewer = await make_client(role="viewer")
    [header, row] = csv_rows(await download(viewer, "/t/orders/bulk.csv?key=3"))
    assert header == ["id", "status", "amount", "note"] and row[:3] == ["3", "paid", "30"]
    # Changing rows stays refused.
    assert (await viewer.get("/t/orders/bulk?action=delete&key=3")).status == 403


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("scope=chosen", "Choose some rows first"),
        ("key=~ZZ", "A chosen row&#39;s key does not decode."),
        ("scope=some&key=1", "scope must be one of chosen, all."),
        ("key=1&size=0", "size must be a whole number"),
    ],
)
async def test_a_bad_selection_is_refused_with_a_sentence(
    orders, make_client, query: str, message: str
) -> None:
    client = await make_client(role="editor")
    response = await client.get("/t/orders/bulk.csv?" + query)
    body = await response.text()
    assert response.status == 400, body
    assert message in body


async def test_too_many_keys_are_refused(orders, make_client) -> None:
    client = await make_client(role="editor", max_page_size=5)
    query = "&".join(f"key={i}" for i in range(1, 7))
    response = await client.get("/t/orders/bulk.json?" + query)
    assert response.status == 400
    assert "choose every row the view finds" in await response.text()
