"""Every value of the hostile corpus through the in-place editor, on every backend: the
text the editor opens with, saved back unchanged, is the same value (the save writes no
statement: update_row writes only changed columns and audits every write it makes), and
no value or column makes the endpoint fail. A value of no editable kind is refused with a
sentence, never offered for editing."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import form_token
from tests.hostile_corpus import arrange, corpus_class
from tests.test_hostile_walk import walk_cases
from webapp.changes.forms import editable_in_list
from webapp.database.decoding import fetch_rows
from webapp.values import key_text
from webapp.web.appkeys import ENGINE, ROLE_CATALOGS
from webapp.web.urls import record_url

ROWS_PER_TABLE = 4


@pytest.mark.parametrize(("backend", "corpus_name"), walk_cases())
async def test_every_corpus_value_saved_back_unchanged_writes_nothing(
    backend: str, corpus_name: str, engine: AsyncEngine, make_client
) -> None:
    await arrange(engine, corpus_class(backend, corpus_name))
    client = await make_client(role="editor")
    catalog = client.app[ROLE_CATALOGS]["editor"]
    token = await form_token(client, "/")
    failures: list[str] = []
    for info in sorted(catalog, key=lambda info: info.name):
        if info.read_only_reason is not None or not info.primary_key:
            continue
        columns = [column for column in info.columns if editable_in_list(info, column)]
        if not columns:
            continue
        for key in await some_keys(client, info):
            record = record_url(info.name, [key_text(value) for value in key])
            for column in columns:
                url = f"{record}/cell?{urlencode({'column': column.name})}"
                failure = await round_trip(client, url, token)
                if failure:
                    failures.append(f"{url}: {failure}")
    assert not failures, "\n".join(failures[:30])
    async with engine.connect() as conn:
        entries = (await conn.execute(text("SELECT count(*) FROM webapp_audit_log"))).scalar()
    assert entries == 0


async def some_keys(client: Any, info: Any) -> list[tuple[Any, ...]]:
    """The first few rows' keys, read as the app reads them."""
    columns = list(info.primary_key)
    statement = select(*columns).order_by(*columns).limit(ROWS_PER_TABLE)
    async with client.app[ENGINE].connect() as conn:
        return [tuple(row) for row in await fetch_rows(conn, statement, columns)]


async def round_trip(client: Any, url: str, token: str) -> str | None:
    """Open the cell and save its text back; what went wrong, or None."""
    response = await client.get(url)
    if response.status == 400:  # a value only the record form may change: said, not offered
        answer = await response.json()
        return None if "record's form" in answer.get("error", "") else f"GET 400 {answer}"
    if response.status != 200:
        return f"GET {response.status} {(await response.text())[:200]}"
    opened = await response.json()
    data = {"csrf_token": token, "version": opened["version"], "value": opened["text"]}
    if opened["null"]:
        data["null"] = "1"
    response = await client.post(url, data=data)
    if response.status != 200:
        return f"POST {response.status} {(await response.text())[:300]}"
    answer = await response.json()
    if answer["saved"]:
        return f"an unchanged save wrote {opened['text'][:80]!r}"
    return None
