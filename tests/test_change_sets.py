"""Change sets on every backend: a bulk change is one transaction whose every row is in the
audit log under one change-set entry; the activity pages list change sets and page through
their rows; a whole change set reverts in one click as a new change set, refused (409,
nothing written) when rows changed since, or limited to the unchanged rows when asked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import (
    MetaData,
    Table,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import form_token, log_rows, orders_table, table_rows
from webapp.accounts.models import MIGRATIONS, account_models
from webapp.changes import bulk_writes
from webapp.changes.audit import AuditTrail
from webapp.changes.audit_values import load_key, load_row
from webapp.changes.bulk_writes import Selection, delete_rows, set_values
from webapp.changes.change_sets import close_change_set, open_change_set
from webapp.changes.writes import write_transaction
from webapp.views import change_sets as change_set_views
from webapp.views.common import audit_log
from webapp.web.appkeys import CATALOG, SESSIONMAKER

ROWS = 30

pytestmark = pytest.mark.usefixtures("small_batches")


@pytest.fixture
async def orders(engine: AsyncEngine) -> Table:
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
                    "note": None if i % 2 else f"n{i}",
                }
                for i in range(1, ROWS + 1)
            ],
        )
    return table


async def bulk(app, action: str, selection: Selection, values: dict[str, Any] | None = None):
    """A bulk change made through the data layer, as the bulk pages make it."""
    info = app[CATALOG].tables["orders"]
    trail = AuditTrail(audit_log(app), user_id=None, username="test-editor")
    async with app[SESSIONMAKER]() as session, write_transaction(session, trail) as conn:
        await open_change_set(conn, trail, action, info, "status is open")
        if action == "set":
            assert values is not None
            count = await set_values(conn, info, selection, values)
        else:
            count = await delete_rows(conn, info, selection)
        await close_change_set(conn, trail, count)
    return trail.change_set_id


def open_orders(app) -> Selection:
    table = app[CATALOG].tables["orders"].table
    return Selection(where=(table.c.status == "open",))


async def post(client, path: str, **data: str):
    token = await form_token(client, "/activity")
    return await client.post(path, data={"csrf_token": token, **data}, allow_redirects=False)


async def test_bulk_set_is_one_change_set_with_every_row_in_the_log(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    before = await table_rows(engine, orders)
    set_id = await bulk(
        client.server.app, "set", open_orders(client.server.app), {"status": "done"}
    )
    [change_set] = await log_rows(engine, "change_sets")
    assert change_set["id"] == set_id
    assert change_set["action"] == "set"
    assert change_set["username"] == "test-editor"
    assert change_set["table_name"] == "orders"
    assert change_set["source"] == "status is open"
    assert change_set["state"] == "committed"
    opened = [key for key, row in before.items() if row[1] == "open"]
    assert change_set["row_count"] == len(opened) == 20
    entries = await log_rows(engine, "audit_log")
    assert [load_key(entry["row_key"]) for entry in entries] == [(key,) for key in opened]
    assert all(entry["change_set_id"] == set_id for entry in entries)
    assert all(load_row(entry["old_values"]) == {"status": "open"} for entry in entries)
    assert all(load_row(entry["new_values"]) == {"status": "done"} for entry in entries)
    after = await table_rows(engine, orders)
    assert {key for key, row in after.items() if row[1] == "done"} == set(opened)
    assert {key: row for key, row in after.items() if key not in opened} == {
        key: row for key, row in before.items() if key not in opened
    }


async def test_a_row_refused_in_a_later_batch_leaves_everything_unchanged(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    async with engine.begin() as conn:  # a big open order near the end of the key order
        await conn.execute(update(orders).where(orders.c.id == 29).values(amount=5000))
    before = await table_rows(engine, orders)
    with pytest.raises(DBAPIError):
        await bulk(client.server.app, "set", open_orders(client.server.app), {"status": "closed"})
    assert await table_rows(engine, orders) == before
    assert await log_rows(engine, "change_sets") == []
    assert await log_rows(engine, "audit_log") == []


async def test_a_view_that_finds_other_rows_than_confirmed_changes_nothing(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    app = client.server.app
    before = await table_rows(engine, orders)
    selection = Selection(where=open_orders(app).where, expected=19)
    with pytest.raises(bulk_writes.SelectionChanged) as caught:
        await bulk(app, "delete", selection)
    assert (caught.value.expected, caught.value.found) == (19, 20)
    with pytest.raises(bulk_writes.TooManyRows):
        await bulk(app, "delete", Selection(where=open_orders(app).where, limit=15))
    assert await table_rows(engine, orders) == before
    assert await log_rows(engine, "change_sets") == []


async def test_activity_lists_change_sets_and_a_set_pages_through_its_rows(
    orders, make_client, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(change_set_views, "SET_ROWS_PAGE_SIZE", 8)
    client = await make_client(role="editor")
    set_id = await bulk(
        client.server.app, "set", open_orders(client.server.app), {"status": "done"}
    )
    activity = await (await client.get("/activity")).text()
    assert f'href="/activity/sets/{set_id}"' in activity
    assert "status is open" in activity
    assert "/t/orders/r/1" not in activity  # the set's rows are on its own page
    listing = await (await client.get("/activity/sets")).text()
    assert f"#{set_id}" in listing and ">20<" in listing
    seen: list[str] = []
    path: str | None = f"/activity/sets/{set_id}"
    pages = 0
    while path is not None:
        response = await client.get(path)
        assert response.status == 200
        body = await response.text()
        seen += re.findall(r'href="/t/orders/r/(\d+)"', body)
        found = re.search(r'href="([^"]+)">Next rows', body)
        path = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert pages == 3
    assert [int(key) for key in seen] == [i for i in range(1, ROWS + 1) if i % 3]
    assert (await client.get("/activity/sets/99999")).status == 404
    assert (await client.get("/activity/sets/x")).status == 400


async def test_reverting_a_change_set_is_one_click_and_itself_a_change_set(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    before = await table_rows(engine, orders)
    set_id = await bulk(
        client.server.app, "set", open_orders(client.server.app), {"status": "done"}
    )
    form = await client.get(f"/activity/sets/{set_id}/revert")
    assert "Revert 20 rows" in await form.text()
    response = await post(client, f"/activity/sets/{set_id}/revert")
    assert response.status == 303, await response.text()
    assert await table_rows(engine, orders) == before
    sets = await log_rows(engine, "change_sets")
    assert [(s["action"], s["row_count"], s["reverts_id"]) for s in sets] == [
        ("set", 20, None),
        ("revert", 20, set_id),
    ]
    assert response.headers["Location"] == f"/activity/sets/{sets[1]['id']}"
    entries = [
        e for e in await log_rows(engine, "audit_log") if e["change_set_id"] == sets[1]["id"]
    ]
    originals = {
        e["row_key"]: e["id"]
        for e in await log_rows(engine, "audit_log")
        if e["change_set_id"] == set_id
    }
    assert len(entries) == 20
    assert all(load_row(e["new_values"]) == {"status": "open"} for e in entries)
    assert all(e["reverts_id"] == originals[e["row_key"]] for e in entries)


async def test_revert_refused_with_409_listing_rows_changed_since_then_only_unchanged(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    set_id = await bulk(
        client.server.app, "set", open_orders(client.server.app), {"status": "done"}
    )
    async with engine.begin() as conn:
        await conn.execute(update(orders).where(orders.c.id == 10).values(status="shipped"))
        await conn.execute(orders.delete().where(orders.c.id == 20))
    changed = await table_rows(engine, orders)
    response = await post(client, f"/activity/sets/{set_id}/revert")
    assert response.status == 409
    body = await response.text()
    assert "2 rows changed since" in body
    assert 'href="/t/orders/r/10"' in body and "changed since: status" in body
    assert 'href="/t/orders/r/20"' in body and "deleted since" in body
    assert "Revert only the 18 unchanged rows" in body
    assert await table_rows(engine, orders) == changed
    assert len(await log_rows(engine, "change_sets")) == 1

    response = await post(client, f"/activity/sets/{set_id}/revert", only_unchanged="1")
    assert response.status == 303, await response.text()
    rows = await table_rows(engine, orders)
    assert rows[10][1] == "shipped" and 20 not in rows
    assert [key for key, row in rows.items() if row[1] == "done"] == []
    sets = await log_rows(engine, "change_sets")
    assert (sets[1]["action"], sets[1]["row_count"]) == ("revert", 18)


async def test_reverting_a_delete_set_creates_the_rows_again_exactly(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    before = await table_rows(engine, orders)
    set_id = await bulk(client.server.app, "delete", open_orders(client.server.app))
    assert len(await table_rows(engine, orders)) == 10
    response = await post(client, f"/activity/sets/{set_id}/revert")
    assert response.status == 303, await response.text()
    assert await table_rows(engine, orders) == before
    # The revert of the revert deletes them again.
    sets = await log_rows(engine, "change_sets")
    response = await post(client, f"/activity/sets/{sets[1]['id']}/revert")
    assert response.status == 303, await response.text()
    assert len(await table_rows(engine, orders)) == 10


async def test_a_viewer_may_see_change_sets_but_not_revert_them(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="viewer")
    set_id = await bulk(
        client.server.app, "set", open_orders(client.server.app), {"status": "done"}
    )
    page = await (await client.get(f"/activity/sets/{set_id}")).text()
    assert "/revert" not in page
    assert (await client.get(f"/activity/sets/{set_id}/revert")).status == 403
    assert (await post(client, f"/activity/sets/{set_id}/revert")).status == 403
    assert len(await log_rows(engine, "change_sets")) == 1


async def test_an_audit_log_from_before_change_sets_gains_the_column(
    make_client, engine: AsyncEngine
) -> None:
    """An install migrated before change sets existed: step 3 adds the table, the column and
    its index, and keeps the entries it had."""
    models = account_models("webapp_")
    current = models.audit_entry.__table__
    metadata = MetaData()
    Table(  # the audit log as step 2 made it before change sets
        current.name,
        metadata,
        *[column.copy() for column in current.columns if column.name != "change_set_id"],
    )
    versions = models.schema_version.__table__
    async with engine.begin() as conn:
        await conn.run_sync(
            lambda sync: models.base.metadata.create_all(
                sync,
                tables=[
                    versions,
                    models.user.__table__,
                    models.login_failure.__table__,
                    models.sign_in_token.__table__,
                ],
            )
        )
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(versions), [{"version": 1}, {"version": 2}])
    client = await make_client(role="editor")
    assert (await client.get("/activity")).status == 200
    async with engine.connect() as conn:
        done = (await conn.execute(select(versions.c.version))).scalars().all()
        columns = await conn.run_sync(
            lambda sync: [c["name"] for c in inspect(sync).get_columns(current.name)]
        )
    assert sorted(done) == list(range(1, len(MIGRATIONS) + 1))  # step 3 and any later
    assert "change_set_id" in columns
