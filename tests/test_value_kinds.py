"""Values real databases hold that a simple reading gets wrong, per backend: each is shown as
the database holds it, an unchanged save leaves the row byte-identical, an edit round-trips,
downloads and the audit log hold the same value, and a revert restores it."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import form_token

RAW_FORM = {
    "sqlite": "typeof({c}) || ':' || hex({c})",
    "mysql": "HEX({c})",
    "postgresql": "{c}::text",
}


async def raw_row(engine: AsyncEngine, backend: str, table: str, columns: list[str]) -> tuple:
    """Row 1 as the database holds it (not as any driver decodes it)."""
    select_list = ", ".join(RAW_FORM[backend].format(c=c) for c in columns)
    async with engine.connect() as conn:
        return tuple(
            (await conn.execute(text(f"SELECT {select_list} FROM {table} WHERE id = 1"))).one()
        )


async def audit_entries(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM webapp_audit_log ORDER BY id"))
        return [dict(row._mapping) for row in rows]


async def revert(client, entry_id: int):
    token = await form_token(client, "/activity")
    return await client.post(
        f"/activity/{entry_id}/revert", data={"csrf_token": token}, allow_redirects=False
    )


async def pages_show(client, table: str, key: str, shown: str) -> None:
    """The list page, the record page and both downloads answer and hold `shown`."""
    for path in (f"/t/{table}", f"/t/{table}/r/{key}", f"/t/{table}/r/{key}/edit"):
        response = await client.get(path)
        body = await response.text()
        assert response.status == 200, (path, body[:2000])
        assert html.escape(shown, quote=False) in html.unescape(body).replace("\r", "") or (
            shown in html.unescape(body)
        ), (path, shown)
    csv = await client.get(f"/t/{table}.csv")
    assert csv.status == 200
    assert shown in await csv.text()
    data = await client.get(f"/t/{table}.json")
    assert data.status == 200
    assert shown in json.dumps(json.loads(await data.text()), ensure_ascii=False) or shown in (
        await data.text()
    )


async def save_unchanged(client, open_form, table: str, key: str) -> None:
    form = await open_form(client, f"/t/{table}/r/{key}/edit")
    response = await form.submit(client)
    assert response.status == 303, await response.text()


async def edit_then_revert(
    client, open_form, engine, backend: str, table: str, columns: list[str], column: str, typed: str
) -> tuple:
    """Edit one column, return the raw row after; then revert and check it is restored."""
    before = await raw_row(engine, backend, table, columns)
    form = await open_form(client, f"/t/{table}/r/1/edit")
    form.set(column, typed)
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    edited = await raw_row(engine, backend, table, columns)
    assert edited != before
    entry = (await audit_entries(engine))[-1]
    response = await revert(client, entry["id"])
    assert response.status == 303, await response.text()
    assert await raw_row(engine, backend, table, columns) == before
    return edited


# --- SQLite: any value in any column ---------------------------------------------------------


async def install_sqlite_odd_values(engine: AsyncEngine, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("only SQLite keeps any value in any column")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE odd (id INTEGER PRIMARY KEY, data BLOB, note TEXT, "
                "flag BOOLEAN, label TEXT)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO odd VALUES "
                "(1, x'', CAST(x'636166e9' AS TEXT), 'maybe', 'one'), "
                "(2, x'00ff', 'fine', 1, 'two'), "
                "(3, NULL, 'also fine', 2, 'three'), "
                "(4, NULL, NULL, '', 'four'), "
                "(5, NULL, NULL, 0, 'five')"
            )
        )


ODD_COLUMNS = ["id", "data", "note", "flag", "label"]


async def test_sqlite_odd_values_are_shown_as_stored_and_marked(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    await install_sqlite_odd_values(engine, backend)
    client = await make_client()
    listing = await client.get("/t/odd")
    body = await listing.text()
    assert listing.status == 200, body
    assert "0 bytes" in body
    assert re.search(r'<span class="stored"[^>]*>caf\\xe9</span>', body)
    assert re.search(r'<span class="stored"[^>]*>maybe</span>', body)
    assert re.search(r'<span class="stored"[^>]*>2</span>', body)
    record = await (await client.get("/t/odd/r/1")).text()
    assert re.search(r'<span class="stored"[^>]*>maybe</span>', record)
    assert "true" not in re.sub(r"<[^>]+>", "", record.split("flag", 1)[1])[:40]
    search = await client.get("/t/odd?q=caf")
    assert search.status == 200
    csv = await (await client.get("/t/odd.csv")).text()
    assert "1,,caf\\xe9,maybe,one" in csv
    assert "3,,also fine,2,three" in csv
    rows = json.loads(await (await client.get("/t/odd.json")).text())
    assert [row["flag"] for row in rows] == ["maybe", True, 2, "", False]


async def test_sqlite_boolean_facet_lists_each_stored_value_once(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    await install_sqlite_odd_values(engine, backend)
    client = await make_client()
    body = await (await client.get("/t/odd")).text()
    facet = body.split('aria-label="Facets"', 1)[1].split("</aside>", 1)[0]
    shown = re.findall(r'<span class="v-(\w+)">([^<]*)</span>', facet)
    assert sorted(shown) == sorted(
        [
            ("bool", "true"),
            ("bool", "false"),
            ("stored", "maybe"),
            ("stored", "2"),
            ("stored", "(empty string)"),
        ]
    )
    for href in re.findall(r'href="([^"]+)"', facet):
        response = await client.get(html.unescape(href))
        assert response.status == 200
        assert "<tbody>" in await response.text() or "No rows" in await response.text()


async def test_sqlite_row_with_odd_values_saves_unchanged_and_edits(
    engine: AsyncEngine, make_client, backend: str, open_form
) -> None:
    await install_sqlite_odd_values(engine, backend)
    client = await make_client()
    before = await raw_row(engine, backend, "odd", ODD_COLUMNS)
    form = await open_form(client, "/t/odd/r/1/edit")
    assert "c2" not in [field[0] for field in form.fields]  # kept as stored, not retyped
    assert "c3" not in [field[0] for field in form.fields]
    await save_unchanged(client, open_form, "odd", "1")
    assert await raw_row(engine, backend, "odd", ODD_COLUMNS) == before
    edited = await edit_then_revert(
        client, open_form, engine, backend, "odd", ODD_COLUMNS, "label", "uno"
    )
    assert edited[2:4] == before[2:4]  # the odd values are kept as they are stored
    entries = await audit_entries(engine)
    assert entries and all(entry["action"] == "update" for entry in entries)


async def test_sqlite_deleted_row_of_odd_values_is_restored_byte_for_byte(
    engine: AsyncEngine, make_client, backend: str, open_form
) -> None:
    if backend != "sqlite":
        pytest.skip("only SQLite keeps any value in any column")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE junk (id INTEGER PRIMARY KEY, d DATE, at DATETIME, t TIME, "
                "n INTEGER, r REAL, b BLOB, words TEXT)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO junk VALUES (1, 'noon', '2024-01-31 10:00:00', '10:00:00', '', "
                "'not real', 'text in blob', CAST(x'ff' AS TEXT)), "
                "(2, NULL, NULL, NULL, NULL, 9e999, NULL, x'00ff')"
            )
        )
    columns = ["id", "d", "at", "t", "n", "r", "b", "words"]
    client = await make_client()
    before = await raw_row(engine, backend, "junk", columns)
    form = await open_form(client, "/t/junk/r/1/delete")
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    entry = (await audit_entries(engine))[-1]
    assert entry["action"] == "delete"
    response = await revert(client, entry["id"])
    assert response.status == 303, await response.text()
    assert await raw_row(engine, backend, "junk", columns) == before
    listing = await (await client.get("/t/junk?r__exact=inf")).text()
    assert "/t/junk/r/2" in listing and '/t/junk/r/1"' not in listing


# --- MySQL / MariaDB types ---------------------------------------------------------------------

FILM_COLUMNS = ["id", "features", "big", "day", "at", "flag", "made", "title"]


async def install_mysql_values(engine: AsyncEngine, backend: str) -> None:
    if backend != "mysql":
        pytest.skip("SET, unsigned BIGINT, zero dates and TINYINT(1) are MySQL's")
    async with engine.begin() as conn:
        await conn.execute(text("SET SESSION sql_mode = ''"))
        await conn.execute(
            text(
                "CREATE TABLE film (id INT PRIMARY KEY, "
                "features SET('Trailers','Commentaries','Deleted Scenes','Behind the Scenes'), "
                "big BIGINT UNSIGNED, day DATE, at DATETIME, flag TINYINT(1), made YEAR, "
                "title VARCHAR(50))"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO film VALUES "
                "(1, 'Trailers,Deleted Scenes', 18446744073709551615, '0000-00-00', "
                "'0000-00-00 00:00:00', 2, 2006, 'one'), "
                "(2, '', 1, '2024-01-31', '2024-01-31 12:30:00', 1, NULL, 'two')"
            )
        )


async def test_mysql_values_are_shown_as_mysql_writes_them(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    await install_mysql_values(engine, backend)
    client = await make_client()
    listing = await (await client.get("/t/film")).text()
    assert "Trailers,Deleted Scenes" in listing and "{" not in listing.split("<tbody>")[1]
    assert "18446744073709551615" in listing
    record = await (await client.get("/t/film/r/1")).text()
    assert re.search(r'<span class="stored"[^>]*>0000-00-00</span>', record)
    assert re.search(r'<span class="stored"[^>]*>0000-00-00 00:00:00</span>', record)
    assert "Trailers,Deleted Scenes" in record and ">2006<" in record
    facet = await client.get("/t/film?flag__exact=2")
    assert facet.status == 200
    assert "Trailers,Deleted Scenes" in await facet.text()
    csv = await (await client.get("/t/film.csv")).text()
    assert '1,"Trailers,Deleted Scenes",18446744073709551615,0000-00-00,' in csv
    rows = json.loads(await (await client.get("/t/film.json")).text())
    assert rows[0]["features"] == "Trailers,Deleted Scenes" and rows[1]["features"] == ""
    assert rows[0]["big"] == 18446744073709551615 and rows[0]["flag"] == 2


async def test_mysql_row_saves_unchanged_and_each_odd_type_round_trips(
    engine: AsyncEngine, make_client, backend: str, open_form
) -> None:
    await install_mysql_values(engine, backend)
    client = await make_client()
    before = await raw_row(engine, backend, "film", FILM_COLUMNS)
    form = await open_form(client, "/t/film/r/1/edit")
    assert form.value("features") == "Trailers,Deleted Scenes"
    assert form.value("big") == "18446744073709551615"
    await save_unchanged(client, open_form, "film", "1")
    assert await raw_row(engine, backend, "film", FILM_COLUMNS) == before
    assert await audit_entries(engine) == []
    edited = await edit_then_revert(
        client,
        open_form,
        engine,
        backend,
        "film",
        FILM_COLUMNS,
        "features",
        "Commentaries,Trailers",
    )
    assert edited[1] != before[1]
    entry = (await audit_entries(engine))[0]
    assert json.loads(entry["old_values"])["features"] == {
        "t": "str",
        "v": "Trailers,Deleted Scenes",
    }
    assert json.loads(entry["new_values"])["features"] == {"t": "str", "v": "Trailers,Commentaries"}
    await edit_then_revert(
        client, open_form, engine, backend, "film", FILM_COLUMNS, "big", "18446744073709551614"
    )
    edited = await edit_then_revert(
        client, open_form, engine, backend, "film", FILM_COLUMNS, "title", "uno"
    )
    assert edited[3:5] == before[3:5]  # the zero dates are kept as they are stored


async def test_mysql_set_refuses_a_member_it_does_not_have(
    engine: AsyncEngine, make_client, backend: str, open_form
) -> None:
    await install_mysql_values(engine, backend)
    client = await make_client()
    before = await raw_row(engine, backend, "film", FILM_COLUMNS)
    form = await open_form(client, "/t/film/r/1/edit")
    form.set("features", "Trailers,Bloopers")
    response = await form.submit(client)
    assert response.status == 400
    assert "Not a member: &#39;Bloopers&#39;" in await response.text()
    form = await open_form(client, "/t/film/r/1/edit")
    form.set("big", "18446744073709551616")
    response = await form.submit(client)
    assert response.status == 400
    assert "too large" in await response.text()
    assert await raw_row(engine, backend, "film", FILM_COLUMNS) == before


# --- PostgreSQL types --------------------------------------------------------------------------

MOMENT_COLUMNS = ["id", "day", "at", "atz", "span", "amount", "ratio", "title", "old"]


async def install_postgresql_values(engine: AsyncEngine, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("infinite dates, months in intervals and NaN numerics are PostgreSQL's")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE moments (id int PRIMARY KEY, day date, at timestamp, "
                "atz timestamptz, span interval, amount numeric, ratio double precision, "
                "title text, old date)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO moments VALUES "
                "(1, 'infinity', '-infinity', 'infinity', '1 year 2 mons 3 days 04:05:06', "
                "'NaN', 'NaN', 'one', '0044-03-15 BC'), "
                "(2, '2024-01-31', '2024-01-31 12:30:00', '2024-01-31 12:30:00+00', "
                "'36 hours', 'Infinity', '-Infinity', 'two', '2024-01-01')"
            )
        )


async def test_postgresql_values_are_shown_as_postgresql_writes_them(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    await install_postgresql_values(engine, backend)
    client = await make_client()
    listing = await client.get("/t/moments")
    body = await listing.text()
    assert listing.status == 200, body
    assert "9999-12-31" not in body and "0001-01-01" not in body
    record = await (await client.get("/t/moments/r/1")).text()
    for shown in ("infinity", "-infinity", "1 year 2 mons 3 days 04:05:06", "NaN"):
        assert f">{shown}<" in record, shown
    assert re.search(r'<span class="stored"[^>]*>0044-03-15 BC</span>', record)
    assert ">36:00:00<" in await (await client.get("/t/moments/r/2")).text()
    csv = await (await client.get("/t/moments.csv")).text()
    assert "1,infinity,-infinity,infinity,1 year 2 mons 3 days 04:05:06,NaN,nan,one," in csv
    rows = json.loads(await (await client.get("/t/moments.json")).text())
    assert rows[0]["day"] == "infinity" and rows[1]["amount"] == "Infinity"
    assert rows[0]["old"] == "0044-03-15 BC"
    assert (await client.get("/t/moments?day__exact=infinity")).status == 200


async def test_postgresql_row_saves_unchanged_and_each_type_round_trips(
    engine: AsyncEngine, make_client, backend: str, open_form
) -> None:
    await install_postgresql_values(engine, backend)
    client = await make_client()
    before = await raw_row(engine, backend, "moments", MOMENT_COLUMNS)
    form = await open_form(client, "/t/moments/r/1/edit")
    assert form.value("day") == "infinity" and form.value("amount") == "NaN"
    assert form.value("span") == "1 year 2 mons 3 days 04:05:06"
    await save_unchanged(client, open_form, "moments", "1")
    assert await raw_row(engine, backend, "moments", MOMENT_COLUMNS) == before
    assert await audit_entries(engine) == []
    for column, typed, stored in (
        ("day", "-infinity", "-infinity"),
        ("at", "infinity", "infinity"),
        ("atz", "2024-05-01 12:00:00", "2024-05-01 12:00:00+00"),
        ("span", "14 months", "1 year 2 mons"),
        ("amount", "Infinity", "Infinity"),
        ("ratio", "1.5", "1.5"),
        ("title", "uno", "uno"),
    ):
        edited = await edit_then_revert(
            client, open_form, engine, backend, "moments", MOMENT_COLUMNS, column, typed
        )
        assert edited[MOMENT_COLUMNS.index(column)] == stored
        assert edited[-1] == "0044-03-15 BC"  # kept as stored
    entry = (await audit_entries(engine))[0]
    assert json.loads(entry["old_values"])["day"] == {"t": "moment", "v": "infinity"}


async def install_postgresql_more_types(engine: AsyncEngine, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("these types are PostgreSQL's")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE DOMAIN short_code AS text CHECK (length(VALUE) < 8)"))
        await conn.execute(
            text(
                "CREATE TABLE more (id int PRIMARY KEY, tags text[], nums int[], "
                "span int4range, during tstzrange, uid uuid, addr inet, net cidr, "
                "price money, code short_code, noon time, title text)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO more VALUES (1, '{a,\"b c\",NULL}', '{1,2,3}', '[1,5)', "
                "'[2024-01-01 00:00:00+00,infinity)', "
                "'123e4567-e89b-12d3-a456-426614174000', '192.168.0.1/24', '10.0.0.0/8', "
                "'12.50', 'ab-12', '24:00:00', 'one')"
            )
        )


MORE_COLUMNS = [
    "id",
    "tags",
    "nums",
    "span",
    "during",
    "uid",
    "addr",
    "net",
    "price",
    "code",
    "noon",
    "title",
]


async def test_postgresql_other_types_show_their_text_and_save_unchanged(
    engine: AsyncEngine, make_client, backend: str, open_form
) -> None:
    await install_postgresql_more_types(engine, backend)
    client = await make_client()
    assert (await client.get("/t/more")).status == 200
    record = await client.get("/t/more/r/1")
    body = html.unescape(await record.text())
    assert record.status == 200, body
    for shown in (
        '{a,"b c",NULL}',
        "{1,2,3}",
        "[1,5)",
        '["2024-01-01 00:00:00+00",infinity)',
        "123e4567-e89b-12d3-a456-426614174000",
        "192.168.0.1/24",
        "10.0.0.0/8",
        "$12.50",
        "ab-12",
        "24:00:00",
    ):
        assert shown in body, shown
    for path in ("/t/more.csv", "/t/more.json", "/t/more/r/1/edit"):
        assert (await client.get(path)).status == 200, path
    before = await raw_row(engine, backend, "more", MORE_COLUMNS)
    await save_unchanged(client, open_form, "more", "1")
    assert await raw_row(engine, backend, "more", MORE_COLUMNS) == before
    assert await audit_entries(engine) == []
    for column, typed, stored in (
        ("tags", '{x,"y z"}', '{x,"y z"}'),
        ("nums", "{4, 5}", "{4,5}"),
        ("span", "[2,3]", "[2,4)"),
        ("addr", "10.1.2.3", "10.1.2.3/32"),  # (the raw form is a cast to text)
        ("price", "7", "$7.00"),
        ("code", "zz", "zz"),
        ("title", "x", "x"),
    ):
        edited = await edit_then_revert(
            client, open_form, engine, backend, "more", MORE_COLUMNS, column, typed
        )
        assert edited[MORE_COLUMNS.index(column)] == stored
    csv = await (await client.get("/t/more.csv")).text()
    assert '"{a,""b c"",NULL}",' in csv and ",$12.50,ab-12,24:00:00,one" in csv
    form = await open_form(client, "/t/more/r/1/edit")
    form.set("code", "much too long")
    response = await form.submit(client)
    assert response.status == 400
    assert "short_code" in await response.text()
    assert await raw_row(engine, backend, "more", MORE_COLUMNS) == before


async def test_a_value_the_driver_cannot_decode_is_read_as_the_database_text(
    engine: AsyncEngine, make_client, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncpg decodes while it fetches, so a value it cannot decode fails the statement
    itself: the page then reads the row again as PostgreSQL's text."""
    if backend != "postgresql":
        pytest.skip("asyncpg decodes values while it fetches them")
    from webapp.database import pg_text

    def refuse(data: tuple[int]) -> dt.time:
        raise ValueError("cannot decode")

    monkeypatch.setattr(pg_text, "_decode_time", refuse)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE clock (id int PRIMARY KEY, noon time, note text)"))
        await conn.execute(text("INSERT INTO clock VALUES (1, '12:30:00', 'lunch')"))
    client = await make_client()
    for path in ("/t/clock", "/t/clock/r/1"):
        response = await client.get(path)
        body = await response.text()
        assert response.status == 200, body
        assert re.search(r'<span class="stored"[^>]*>12:30:00</span>', body), path
        assert "lunch" in body


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "status"),
    [("2147483647", 200), ("2147483648", 404), ("-2147483649", 404), ("1" + "0" * 20, 404)],
)
async def test_an_integer_key_beyond_the_column_range_names_no_record(
    engine: AsyncEngine, make_client, backend: str, key: str, status: int
) -> None:
    """SQLite's INTEGER holds 64 bits whatever it is called; a 32-bit key elsewhere."""
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE small (id INTEGER PRIMARY KEY, note TEXT)"))
        await conn.execute(text("INSERT INTO small VALUES (2147483647, 'top')"))
        if backend == "sqlite":
            await conn.execute(text("INSERT INTO small VALUES (2147483648, 'beyond')"))
    client = await make_client()
    in_range = status == 200 or (backend == "sqlite" and len(key) < 19)
    expected = 200 if backend == "sqlite" and key == "2147483648" else status
    response = await client.get(f"/t/small/r/{key}")
    assert response.status == expected, await response.text()
    filtered = await client.get(f"/t/small?id__exact={key}")
    assert filtered.status == (200 if in_range else 400)


async def test_postgresql_json_is_kept_as_its_text(
    engine: AsyncEngine, make_client, open_form, backend: str
) -> None:
    """JSON's null is not SQL NULL, a JSON string keeps its quotes, a large number its
    digits and a json text its repeated keys; an unchanged save writes nothing."""
    if backend != "postgresql":
        pytest.skip("json and jsonb are PostgreSQL's")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE docs (id int PRIMARY KEY, j json, jb jsonb)"))
        await conn.execute(text("""INSERT INTO docs VALUES (1, '"text"', 'null')"""))
    client = await make_client()
    await pages_show(client, "docs", "1", '"text"')
    record = await (await client.get("/t/docs/r/1")).text()
    assert ">null<" in record
    before = await raw_row(engine, backend, "docs", ["j", "jb"])
    await save_unchanged(client, open_form, "docs", "1")
    assert await raw_row(engine, backend, "docs", ["j", "jb"]) == before == ('"text"', "null")
    typed = '{"dup": 1, "dup": 12345678901234567890.5}'
    edited = await edit_then_revert(
        client, open_form, engine, backend, "docs", ["j", "jb"], "j", typed
    )
    assert edited[0] == typed


async def test_postgresql_moments_beyond_python_are_filtered_and_restored(
    engine: AsyncEngine, make_client, open_form, backend: str
) -> None:
    """A BC date, a year past 9999 and 24:00:00 are filter values and come back from the
    audit log exactly."""
    if backend != "postgresql":
        pytest.skip("BC dates and 24:00:00 are PostgreSQL's")
    columns = ["d", "ts", "t", "note"]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE ancient (id int PRIMARY KEY, d date, ts timestamp, t time, note text)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO ancient VALUES (1, '0044-03-15 BC', '12345-06-07 08:09:10',"
                " '24:00:00', 'old'), (2, '2024-01-31', NULL, NULL, 'new')"
            )
        )
    client = await make_client()
    for query in ("d__exact=0044-03-15 BC", "ts__gte=12345-06-07 08:09:10", "t__exact=24:00:00"):
        listing = await client.get("/t/ancient?" + query.replace(" ", "+"))
        body = await listing.text()
        assert listing.status == 200, (query, body[:2000])
        assert "/t/ancient/r/1" in body and "/t/ancient/r/2" not in body, query
    edited = await edit_then_revert(
        client, open_form, engine, backend, "ancient", columns, "note", "changed"
    )
    assert edited[:3] == ("0044-03-15 BC", "12345-06-07 08:09:10", "24:00:00")
