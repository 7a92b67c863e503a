"""Helpers for the hostile-input tests: the demo database, a checksum of every table to prove
that nothing was written, and the page a refusal must come with."""

from __future__ import annotations

import hashlib

from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.demo import install_demo

DEMO_ORDERS = 60


async def install_small_demo(engine: AsyncEngine) -> None:
    assert await install_demo(engine, orders=DEMO_ORDERS) is True


async def database_checksum(engine: AsyncEngine) -> dict[str, str]:
    """A digest of every row of every table (the app's own tables included, except the
    sign-in failures a wrong password is meant to record), in key order."""
    metadata = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
        digests = {}
        for name, table in sorted(metadata.tables.items()):
            if name.endswith("login_failures"):
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = (await conn.execute(select(table).order_by(*order))).all()
            digests[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def assert_refusal_page(status: int, body: str, expected_status: int, message: str) -> None:
    """A refusal with its status and a page that says why (never a traceback)."""
    assert status == expected_status, body[:500]
    assert "<html" in body.lower(), body[:500]
    assert message in body, body[:2000]
    assert "Traceback" not in body
