"""Relative times on the history, activity and change-set pages: the words at each boundary
(seconds, minutes, hours, yesterday, days, older as a date), times in the future, naive and
aware moments alike, and the `<time>` element that keeps the exact moment."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp import clock
from webapp.changes.audit import AuditTrail
from webapp.changes.bulk_writes import Selection, delete_rows
from webapp.changes.change_sets import close_change_set, open_change_set
from webapp.changes.writes import insert_row, write_transaction
from webapp.views.common import audit_log
from webapp.web.appkeys import CATALOG, SESSIONMAKER
from webapp.web.relative_time import (
    exact_time,
    machine_time,
    relative_time,
    time_element,
)

NOW = dt.datetime(2026, 12, 6, 15, 30, 0)


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (dt.timedelta(0), "just now"),
        (dt.timedelta(seconds=9.999), "just now"),
        (dt.timedelta(seconds=10), "10 seconds ago"),
        (dt.timedelta(seconds=59.9), "59 seconds ago"),
        (dt.timedelta(seconds=60), "1 minute ago"),
        (dt.timedelta(seconds=119), "1 minute ago"),
        (dt.timedelta(minutes=3), "3 minutes ago"),
        (dt.timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (dt.timedelta(hours=1), "1 hour ago"),
        (dt.timedelta(hours=2, minutes=59), "2 hours ago"),
        (dt.timedelta(hours=23, minutes=59, seconds=59), "23 hours ago"),
        (dt.timedelta(hours=24), "yesterday"),
        # 2026-12-05 00:00:00, a day and a half ago, is still yesterday's date.
        (dt.timedelta(hours=39, minutes=30), "yesterday"),
        (dt.timedelta(hours=39, minutes=30, seconds=1), "2 days ago"),
        (dt.timedelta(days=6), "6 days ago"),
        (dt.timedelta(days=7), "2026-11-29"),
        (dt.timedelta(days=400), "2025-11-01"),
    ],
)
def test_past_moments_read_as_their_distance_then_as_a_date(
    before: dt.timedelta, expected: str
) -> None:
    assert relative_time(NOW - before, NOW) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (dt.timedelta(seconds=5), "just now"),
        (dt.timedelta(seconds=30), "in 30 seconds"),
        (dt.timedelta(minutes=1), "in 1 minute"),
        (dt.timedelta(minutes=45), "in 45 minutes"),
        (dt.timedelta(hours=5), "in 5 hours"),
        (dt.timedelta(hours=24), "tomorrow"),
        (dt.timedelta(days=3), "in 3 days"),
        (dt.timedelta(days=30), "2027-01-05"),
    ],
)
def test_future_moments_read_forward(after: dt.timedelta, expected: str) -> None:
    assert relative_time(NOW + after, NOW) == expected


def test_aware_and_naive_moments_are_compared_in_utc() -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    aware_now = NOW.replace(tzinfo=dt.UTC)
    # 16:27 in Berlin is 15:27 UTC: three minutes before NOW, whichever side is aware.
    moment = dt.datetime(2026, 12, 6, 16, 27, tzinfo=berlin)
    assert relative_time(moment, NOW) == "3 minutes ago"
    assert relative_time(moment, aware_now) == "3 minutes ago"
    assert relative_time(NOW - dt.timedelta(hours=2), aware_now) == "2 hours ago"
    # Calendar days are UTC's: 00:30 on the 6th in Berlin is still the 5th in UTC.
    late = dt.datetime(2026, 12, 6, 0, 30, tzinfo=berlin)
    assert relative_time(late, dt.datetime(2026, 12, 7, 0, 10)) == "2 days ago"


def test_the_exact_moment_keeps_its_fraction_and_zone() -> None:
    naive = dt.datetime(2024, 2, 29, 23, 59, 59, 123456)
    assert machine_time(naive) == "2024-02-29T23:59:59.123456Z"
    assert exact_time(naive) == "2024-02-29 23:59:59.123456 UTC"
    assert machine_time(naive.replace(tzinfo=dt.UTC)) == "2024-02-29T23:59:59.123456Z"
    offset = naive.replace(tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30)))
    assert machine_time(offset) == "2024-02-29T23:59:59.123456-05:30"
    assert exact_time(offset) == "2024-02-29 23:59:59.123456-05:30"
    assert machine_time(dt.datetime(2024, 1, 1)) == "2024-01-01T00:00:00Z"


def test_the_element_holds_the_exact_moment_in_datetime_and_title() -> None:
    moment = dt.datetime(2026, 12, 6, 15, 27, 0, 5)
    html = str(time_element(moment, NOW))
    assert html == (
        '<time datetime="2026-12-06T15:27:00.000005Z" title="2026-12-06 15:27:00.000005 UTC">'
        "2 minutes ago</time>"
    )


TIME = re.compile(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>')


@pytest.fixture
async def notes(engine: AsyncEngine) -> None:
    metadata = MetaData()
    table = Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("body", String(50)),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(table), [{"id": n, "body": f"note {n}"} for n in (1, 2, 3)])


async def test_history_activity_and_change_set_pages_say_when_relative_to_now(
    notes: None, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(role="editor")
    app = client.server.app
    info = app[CATALOG].tables["notes"]
    sets = AuditTrail(audit_log(app), user_id=None, username="test-editor")
    async with app[SESSIONMAKER]() as session, write_transaction(session, sets) as conn:
        await open_change_set(conn, sets, "delete", info, "ids 2 and 3")
        count = await delete_rows(conn, info, Selection(where=(info.table.c.id > 1,)))
        await close_change_set(conn, sets, count)
    trail = AuditTrail(audit_log(app), user_id=None, username="test-editor")
    async with app[SESSIONMAKER]() as session, write_transaction(session, trail) as conn:
        await insert_row(conn, info, {"id": 4, "body": "note 4"})
    written = clock.now()
    monkeypatch.setattr(clock, "now", lambda: written + 180)
    pages = {
        "record": await (await client.get("/t/notes/r/4")).text(),
        "activity": await (await client.get("/activity")).text(),
        "change sets": await (await client.get("/activity/sets")).text(),
        "change set": await (await client.get(f"/activity/sets/{sets.change_set_id}")).text(),
    }
    for name, page in pages.items():
        found = TIME.findall(page)
        assert found, name
        for machine, title, words in found:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", machine)
            assert title == machine.replace("T", " ").replace("Z", " UTC")
            assert words in ("3 minutes ago", "2 minutes ago"), (name, words)
    assert "When (UTC)" not in pages["activity"]
