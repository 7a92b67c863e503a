"""What real PostgreSQL databases hold beyond one schema of plain tables: tables in other
schemas (listed per schema, addressed by `schema:table` URLs that collide with nothing),
materialized views, partitioned tables and domains. The other backends browse their default
schema only."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from markupsafe import escape
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import FAST_HASHING
from webapp.app import create_app
from webapp.settings import TableOptions, settings_for_url
from webapp.web.urls import QualifiedName, export_url, record_url, table_url

POSTGRES_SCHEMA = [
    "CREATE SCHEMA sales",
    'CREATE SCHEMA "do"',
    'CREATE SCHEMA "odd: sch.ema"',
    "CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0)",
    "CREATE TABLE customers (id integer PRIMARY KEY, name varchar(50))",
    "CREATE TABLE sales (id integer PRIMARY KEY, note text)",
    'CREATE TABLE "sales.orders" (id integer PRIMARY KEY, note text)',
    'CREATE TABLE "do.t" (id integer PRIMARY KEY, note text)',
    "CREATE TABLE sales.orders (id integer PRIMARY KEY, "
    "customer_id integer REFERENCES public.customers (id), quantity positive_int, note text)",
    "CREATE TABLE sales.csv (id integer PRIMARY KEY, note text)",
    'CREATE TABLE "do".t (id integer PRIMARY KEY, note text)',
    'CREATE TABLE "odd: sch.ema"."ta/ble" (id integer PRIMARY KEY, note text)',
    "CREATE TABLE shipments (id integer PRIMARY KEY, "
    "order_id integer REFERENCES sales.orders (id))",
    "CREATE MATERIALIZED VIEW sales.totals AS "
    "SELECT customer_id, sum(quantity) AS quantity FROM sales.orders GROUP BY customer_id",
    "CREATE MATERIALIZED VIEW order_count AS SELECT count(*) AS n FROM sales.orders",
    "CREATE TABLE measurements (id integer, taken date NOT NULL, reading integer, "
    "PRIMARY KEY (id, taken)) PARTITION BY RANGE (taken)",
    "CREATE TABLE measurements_2023 PARTITION OF measurements "
    "FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')",
    "CREATE TABLE measurements_2024 PARTITION OF measurements "
    "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    "INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace')",
    "INSERT INTO sales VALUES (1, 'public sales')",
    """INSERT INTO "sales.orders" VALUES (1, 'dotted public table')""",
    """INSERT INTO "do.t" VALUES (1, 'dotted public do.t')""",
    "INSERT INTO sales.orders VALUES (1, 1, 3, 'first order'), (2, 2, 5, 'second order')",
    "INSERT INTO sales.csv VALUES (1, 'a table called csv')",
    """INSERT INTO "do".t VALUES (1, 'schema do, table t')""",
    """INSERT INTO "odd: sch.ema"."ta/ble" VALUES (1, 'odd schema')""",
    "INSERT INTO shipments VALUES (1, 2)",
    "INSERT INTO measurements VALUES (1, '2023-05-01', 10), (2, '2024-05-01', 20)",
    "REFRESH MATERIALIZED VIEW sales.totals",
    "REFRESH MATERIALIZED VIEW order_count",
]

ORDERS = QualifiedName("sales", "orders")


@pytest.fixture
async def schemas(engine: AsyncEngine, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("schemas, materialized views, partitions and domains are PostgreSQL's")
    async with engine.begin() as conn:
        for statement in POSTGRES_SCHEMA:
            await conn.execute(text(statement))


async def test_index_lists_other_schemas_each_in_a_section(schemas, make_client) -> None:
    client = await make_client()
    body = await (await client.get("/")).text()
    assert "<h2>Schema do</h2>" in body and "<h2>Schema sales</h2>" in body
    assert f"<h2>Schema {escape('odd: sch.ema')}</h2>" in body
    assert '<a href="/t/sales:orders">orders</a>' in body
    assert '<a href="/t/sales:totals">totals</a>' in body  # a materialized view
    assert '<a href="/t/order_count">order_count</a>' in body
    assert '<a href="/t/odd~3A+sch~2Eema:ta~2Fble">ta/ble</a>' in body
    assert '<a href="/t/sales~2Eorders">sales.orders</a>' in body  # public, dotted name
    # A partitioned table is listed once; its partitions are not tables of their own.
    assert '<a href="/t/measurements">measurements</a>' in body
    assert "measurements_2023" not in body and "measurements_2024" not in body
    assert "Not readable" not in body


async def test_schema_urls_never_meet_dotted_names_or_downloads(schemas, make_client) -> None:
    """`do.t` in public, `t` in schema `do`, `sales.orders` in public and `orders` in schema
    `sales`, `sales` in public (and its CSV) and `csv` in schema `sales`: each its own page."""
    client = await make_client()
    pages = {
        table_url("do.t"): "dotted public do.t",
        table_url(QualifiedName("do", "t")): "schema do, table t",
        table_url("sales.orders"): "dotted public table",
        table_url(ORDERS): "first order",
        table_url("sales"): "public sales",
        table_url(QualifiedName("sales", "csv")): "a table called csv",
        table_url(QualifiedName("odd: sch.ema", "ta/ble")): "odd schema",
    }
    assert len(set(pages)) == len(pages)
    assert table_url(QualifiedName("sales", "csv")) == "/t/sales:csv"
    for url, note in pages.items():
        response = await client.get(url)
        assert response.status == 200, url
        assert f"<td>{note}</td>" in await response.text(), url
    download = await client.get("/t/sales.csv")
    rows = list(csv.reader(io.StringIO(await download.text())))
    assert rows == [["id", "note"], ["1", "public sales"]]
    qualified = await client.get(export_url(QualifiedName("sales", "csv"), "csv"))
    assert qualified.status == 200
    assert list(csv.reader(io.StringIO(await qualified.text())))[1] == ["1", "a table called csv"]
    for path in ("/t/sales:nope", "/t/nope:orders", "/t/sales:orders:x", "/t/:orders"):
        assert (await client.get(path)).status == 404, path


async def test_foreign_keys_link_across_schemas(schemas, make_client) -> None:
    client = await make_client()
    orders = await (await client.get(table_url(ORDERS))).text()
    assert f'href="{record_url("customers", ["1"])}"' in orders
    assert ">Ada<" in orders  # the customer's label
    record = await client.get(record_url(ORDERS, ["2"]))
    assert record.status == 200
    body = await record.text()
    assert f'href="{record_url("customers", ["2"])}"' in body
    assert f'href="{record_url("shipments", ["1"])}"' in body  # referenced from public
    shipments = await (await client.get(table_url("shipments"))).text()
    assert f'href="{record_url(ORDERS, ["2"])}"' in shipments
    customer = await (await client.get(record_url("customers", ["1"]))).text()
    assert f'href="{record_url(ORDERS, ["1"])}"' in customer


async def test_a_table_in_another_schema_is_edited_and_audited(
    schemas, make_client, open_form, engine: AsyncEngine
) -> None:
    client = await make_client()
    form = await open_form(client, record_url(ORDERS, ["1"]) + "/edit")
    form.set("note", "changed")
    form.set("quantity", "7")  # a domain over integer
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == record_url(ORDERS, ["1"])
    async with engine.connect() as conn:
        query = text("SELECT quantity, note FROM sales.orders WHERE id = 1")
        row = (await conn.execute(query)).one()
    assert tuple(row) == (7, "changed")
    form = await open_form(client, record_url(ORDERS, ["1"]) + "/edit")
    form.set("quantity", "-1")  # the domain's check refuses it: a form error, not a 500
    response = await form.submit(client)
    assert response.status in (400, 409, 422), response.status
    history = await (await client.get("/activity")).text()
    assert f'href="{record_url(ORDERS, ["1"])}"' in history


async def test_materialized_views_are_browsable_and_read_only(schemas, make_client) -> None:
    client = await make_client()
    response = await client.get(table_url(QualifiedName("sales", "totals")))
    assert response.status == 200
    body = await response.text()
    assert "New record" not in body and "read-only" in body
    assert re.findall(r"<td[^>]*>(\d+)</td>", body)
    assert (await client.get(table_url(QualifiedName("sales", "totals")) + "/new")).status in (
        403,
        404,
        405,
    )


async def test_partitioned_table_shows_rows_of_every_partition(schemas, make_client) -> None:
    client = await make_client()
    body = await (await client.get(table_url("measurements"))).text()
    assert "2023-05-01" in body and "2024-05-01" in body
    assert (await client.get(table_url("measurements_2023"))).status == 404


async def test_only_the_default_schema_is_browsed_elsewhere(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    """MySQL's other databases and SQLite's attached ones are not listed; a schema URL
    names nothing."""
    if backend == "postgresql":
        pytest.skip("PostgreSQL browses its other schemas")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id integer PRIMARY KEY)"))
    client = await make_client()
    body = await (await client.get("/")).text()
    assert '<a href="/t/t">t</a>' in body and "<h2>Schema" not in body
    assert (await client.get("/t/main:t")).status == 404


async def test_table_rules_name_a_table_of_another_schema(schemas, make_client) -> None:
    client = await make_client(
        tables={
            "sales.csv": TableOptions(hidden_columns=frozenset({"note"})),
            '"sales"."orders"': TableOptions(read_only=True),
        }
    )
    body = await (await client.get(table_url(QualifiedName("sales", "csv")))).text()
    assert "a table called csv" not in body
    orders = await (await client.get(table_url(ORDERS))).text()
    assert "New record" not in orders
    public = await (await client.get(table_url("sales.orders"))).text()
    assert "New record" in public


async def test_an_unpopulated_materialized_view_is_listed_as_not_readable(
    schemas, make_client, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE MATERIALIZED VIEW pending AS SELECT 1 AS n WITH NO DATA"))
    client = await make_client()
    index = await client.get("/")
    assert index.status == 200
    assert "<strong>pending</strong>: a materialized view not populated yet" in await index.text()
    assert (await client.get(table_url("pending"))).status == 404


async def test_what_the_user_may_not_read_is_left_out(
    schemas, engine: AsyncEngine, db_url: str, app_client
) -> None:
    role = f"webapp_limited_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(text("CREATE SCHEMA locked"))
        await conn.execute(text("CREATE TABLE locked.secret (id integer PRIMARY KEY)"))
        await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        await conn.execute(text(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}"))
        await conn.execute(text(f"GRANT USAGE ON SCHEMA sales TO {role}"))
        await conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public, sales TO {role}"))
        await conn.execute(text(f"REVOKE SELECT ON sales.csv FROM {role}"))
    try:
        url = make_url(db_url).set(username=role).render_as_string(hide_password=False)
        settings = settings_for_url(url, auth=FAST_HASHING)
        client = await app_client(create_app(settings))
        index = await client.get("/")
        assert index.status == 200
        body = await index.text()
        assert "<h2>Schema sales</h2>" in body and "locked" not in body
        assert "<strong>sales.csv</strong>: you may not read it" in body
        assert (await client.get(table_url(QualifiedName("sales", "csv")))).status == 404
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE {role}"))
