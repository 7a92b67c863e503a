"""The app starts on each backend and serves its index."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import SMALL_DEMO
from webapp.demo import install_demo


async def test_index_lists_demo_tables(engine: AsyncEngine, make_client) -> None:
    await install_demo(engine, orders=200, size=SMALL_DEMO)
    client = await make_client()
    response = await client.get("/")
    assert response.status == 200
    body = await response.text()
    for name in ("my_table", "authors", "books", "orders", "order_items", "book_sales"):
        assert f'href="/t/{name}"' in body
