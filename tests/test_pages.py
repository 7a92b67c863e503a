"""Index, table and record pages on the demo schema, on every backend."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.demo import install_demo


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    """The module's app on its data, shared by the tests that only read."""
    await install_demo(module_engine, orders=120)
    return await module_client(page_size=10)


def row_links(body: str, table: str) -> list[str]:
    """The record links of a table page's rows (the key cell's, or the "open" column's)."""
    return re.findall(rf'<td class="(?:\w+ )?pk"><a href="/t/{table}/r/([^"]+)"', body)


async def test_index_shows_tables_views_and_exact_small_counts(client) -> None:
    response = await client.get("/")
    assert response.status == 200
    body = await response.text()
    assert re.search(r'href="/t/orders">orders</a></td><td class="num">120<', body)
    assert re.search(r'href="/t/authors">authors</a></td><td class="num">200<', body)
    assert "<h2>Views</h2>" in body and 'href="/t/book_sales"' in body


async def test_table_page_pages_through_rows_in_key_order(client) -> None:
    first = await (await client.get("/t/orders")).text()
    assert row_links(first, "orders") == [str(n) for n in range(1, 11)]
    assert "Rows 1–10 of 120" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    next_href = re.search(r'href="([^"]+)" rel="next"', first).group(1)
    second = await (await client.get(next_href.replace("&amp;", "&"))).text()
    assert row_links(second, "orders") == [str(n) for n in range(11, 21)]
    assert 'rel="prev"' in second


async def test_last_page_has_no_next_link(client) -> None:
    body = await (await client.get("/t/orders?page=12")).text()
    assert row_links(body, "orders") == [str(n) for n in range(111, 121)]
    assert 'rel="next"' not in body


async def test_sort_descending_with_key_as_tie_breaker(client, module_engine: AsyncEngine) -> None:
    body = await (await client.get("/t/books?sort=-in_print&size=500")).text()
    keys = [int(k) for k in row_links(body, "books")]
    async with module_engine.connect() as conn:
        expected = (
            await conn.scalars(
                text("SELECT id FROM books ORDER BY in_print DESC, id DESC LIMIT 500")
            )
        ).all()
    assert keys == list(expected)
    assert 'class="sorted-desc"' in body


async def test_sort_header_toggles_direction(client) -> None:
    body = await (await client.get("/t/authors?sort=name")).text()
    assert 'href="/t/authors?sort=-name"' in body
    body = await (await client.get("/t/authors?sort=-name")).text()
    assert 'href="/t/authors?sort=name"' in body


@pytest.mark.parametrize(
    "query", ["sort=nope", "sort=-", "size=0", "size=abc", "size=100000", "page=0", "page=x"]
)
async def test_bad_table_parameters_are_400(client, query: str) -> None:
    response = await client.get(f"/t/orders?{query}")
    assert response.status == 400
    body = await response.text()
    assert "Traceback" not in body and "<h1>" in body


async def test_values_render_by_type(client, backend: str) -> None:
    body = await (await client.get("/t/authors?size=200")).text()
    assert '<span class="null">NULL</span>' in body
    assert 'title="empty string"' in body
    assert re.search(r'<span class="v-binary">\d+ bytes: [0-9a-f ]+', body)
    books = await (await client.get("/t/books")).text()
    assert re.search(r'<td class="d">\d{4}-\d\d-\d\d</td>', books)
    assert re.search(r'<span class="v-bool">(true|false)</span>', books)
    orders = await (await client.get("/t/orders")).text()
    assert re.search(r'<td class="d">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}</td>', orders)
    # MariaDB stores JSON as LONGTEXT with a check, so it reflects (and shows) as text.
    json_cell = "<td>" if backend == "mysql" else '<td><span class="v-json">'
    assert f"{json_cell}{{&#34;" in orders


async def test_foreign_key_values_link_to_the_referenced_record(client) -> None:
    body = await (await client.get("/t/books")).text()
    assert re.search(
        r'<td><a href="/t/authors/r/\d+">[^<]+</a> <span class="fk-key">\d+</span></td>',
        body,
    )


async def test_record_page_with_composite_key_and_referencing_rows(client, module_engine) -> None:
    async with module_engine.connect() as conn:
        order_id, line_no = (
            await conn.execute(text("SELECT order_id, line_no FROM order_items LIMIT 1"))
        ).one()
    response = await client.get(f"/t/order_items/r/{order_id},{line_no}")
    assert response.status == 200
    body = await response.text()
    assert f'href="/t/orders/r/{order_id}"' in body
    order = await (await client.get(f"/t/orders/r/{order_id}")).text()
    assert "Referenced by" in order and 'href="/t/order_items"' in order
    assert f'href="/t/order_items/r/{order_id},{line_no}"' in order


async def test_record_page_shows_every_column(client) -> None:
    body = await (await client.get("/t/orders/r/1")).text()
    for name in ("id", "customer_id", "placed_at", "status", "total", "shipping", "notes"):
        assert f'<th scope="row">{name}' in body


@pytest.mark.parametrize(
    "path",
    [
        "/t/nope",
        "/t/orders/r/999999",
        "/t/orders/r/notanumber",
        "/t/orders/r/1,2",
        "/t/order_items/r/1",
        "/t/bad~ZZ",
        "/t/orders/r/~Z",
        "/t/book_sales/r/1",
        "/no/such/page",
    ],
)
async def test_unknown_tables_and_records_are_404_pages(client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404
    body = await response.text()
    assert "Not found" in body and "Traceback" not in body
    assert response.headers["Content-Type"].startswith("text/html")


async def test_view_pages_are_read_only_lists(client) -> None:
    body = await (await client.get("/t/book_sales")).text()
    assert "This is a view" in body
    assert 'class="open"' not in body and 'class="pk"' not in body


async def test_security_headers_on_every_response(client) -> None:
    for path in ("/", "/t/orders", "/nope", "/static/app.css"):
        response = await client.get(path)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]


async def test_static_files_have_no_index_and_no_traversal(client) -> None:
    assert (await client.get("/static/app.css")).status == 200
    assert (await client.get("/static/")).status in (403, 404)
    assert (await client.get("/static/../webapp/settings.py")).status in (403, 404)
    assert (await client.get("/static/%2e%2e/config.yaml")).status in (403, 404)


async def test_binary_values_download_whole_and_exact(client, module_engine) -> None:
    async with module_engine.connect() as conn:
        author_id, photo = (
            await conn.execute(
                text("SELECT id, photo FROM authors WHERE photo IS NOT NULL ORDER BY id LIMIT 1")
            )
        ).one()
    page = await (await client.get(f"/t/authors/r/{author_id}")).text()
    href = f"/t/authors/r/{author_id}/raw/photo"
    assert f'href="{href}"' in page
    response = await client.get(href)
    assert response.status == 200
    assert await response.read() == bytes(photo)
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")


async def test_text_values_download_as_plain_text_attachments(client) -> None:
    response = await client.get("/t/authors/r/7/raw/name")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert (await response.text()).strip()


@pytest.mark.parametrize("column", ["nope", "~ZZ"])
async def test_download_of_unknown_column_is_404(client, column: str) -> None:
    assert (await client.get(f"/t/authors/r/7/raw/{column}")).status == 404


async def test_download_of_null_is_404(client, module_engine) -> None:
    async with module_engine.connect() as conn:
        author_id = await conn.scalar(text("SELECT min(id) FROM authors WHERE photo IS NULL"))
    assert (await client.get(f"/t/authors/r/{author_id}/raw/photo")).status == 404


async def test_record_heading_shows_the_label(client) -> None:
    body = await (await client.get("/t/books/r/1")).text()
    assert re.search(r'<span class="label">[^<]+</span></h1>', body)
