"""JSON values are stored as written: non-ASCII text stays readable in the database."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, text
from sqlalchemy.engine import make_url

from webapp.database.dialects import create_engine
from webapp.settings import DatabaseSettings


async def test_json_keeps_non_ascii_text_unescaped(db_url: str) -> None:
    engine = create_engine(DatabaseSettings(url=make_url(db_url)))
    metadata = MetaData()
    docs = Table("docs", metadata, Column("id", Integer, primary_key=True), Column("body", JSON))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(insert(docs), [{"id": 1, "body": {"city": "Malmö 😀"}}])
        async with engine.connect() as conn:
            raw = await conn.scalar(text("SELECT body FROM docs"))
            if not isinstance(raw, str):  # asyncpg decodes json itself: ask for its text
                raw = await conn.scalar(text("SELECT CAST(body AS TEXT) FROM docs"))
    finally:
        await engine.dispose()
    raw_text = str(raw)
    assert "Malmö 😀" in raw_text
    assert "\\u00f6" not in raw_text
