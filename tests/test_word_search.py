"""Word search on MariaDB: a bounded scan in index order and the FULLTEXT index find exactly
the same rows, the cheap one serves each page, and paging, counts and odd input behave the
same whichever plan answered. Most tests need MariaDB and are skipped elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    event,
    select,
    text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import link, page_ids, walk
from webapp.listing import fulltext
from webapp.listing.fulltext import bounded_scan, scan_finds_the_same
from webapp.listing.queries import SortKey, page_statement
from webapp.listing.search import search_for
from webapp.schema.catalog import reflect_catalog
from webapp.web.appkeys import READ_ENGINE


def mariadb_only(backend: str) -> None:
    if backend != "mysql":
        pytest.skip("the bounded scan (LIMIT ... ROWS EXAMINED) is MariaDB's")


def people_table(metadata: MetaData, collation: str) -> Table:
    return Table(
        "people",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(200, collation=collation), nullable=False),
        Column("email", String(200, collation=collation), nullable=False),
        Column("rank", Integer, nullable=False),
        Index("ix_people_rank", "rank"),
        Index("ft_people", "name", "email", mysql_prefix="FULLTEXT"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


EDGE_CASES = {
    1: ("Boris Lindqvist", "boris.lindqvist1@example.org"),
    2: ("O'Boris", "o.boris@x.test"),
    3: ("jean_boris", "jb@x.test"),
    4: ("Éboris", "e1@x.test"),
    5: ("BORIS", "upper@x.test"),
    6: ("Böris", "b@x.test"),
    7: ("x", "boris@x.test"),
    8: ("2boris", "n@x.test"),
    9: ("€boris —boris", "e2@x.test"),
    10: ("boris_jean", "bj@x.test"),
    11: ("BorisLindqvist", "bl@x.test"),
    12: ("boris" + "x" * 80, "long1@x.test"),
    13: ("boris" + "x" * 79, "long2@x.test"),
    14: ("where were you", "w@x.test"),
    15: ("Müller", "mueller@x.test"),
    16: ("Muller", "muller@x.test"),
    17: ("lindqvist.boris", "l@x.test"),
    18: ("d'Artagnan", "dartagnan@x.test"),
    19: ("agent 007", "bond007@x.test"),
    20: ("Anne-Marie", "anne.marie@x.test"),
    21: ("\u212aelvin \u017fam", "k@x.test"),
    22: ("Sam Kelvin", "sam@x.test"),
    23: ("tab\tboris,boris;(boris)", "t@x.test"),
}
SCANNABLE_QUERIES = [
    "boris",
    "Boris",
    "BORIS",
    "bor",
    "lindqvist",
    "boris lindqvist",
    "lindqvist boris",
    "jean",
    "artagnan",
    "dartagnan",
    "007",
    "bond007",
    "marie",
    "anne",
    "muller",
    "mueller",
    "kelvin",
    "sam",
    "borisx",
    "boris_",
    "_boris",
    "example",
    "org",
    "test",
    "nothing",
]


@pytest.mark.parametrize("collation", ["utf8mb4_general_ci", "utf8mb4_bin"])
async def test_scan_and_fulltext_find_the_same_rows_on_edge_cases(
    engine: AsyncEngine, backend: str, collation: str
) -> None:
    mariadb_only(backend)
    metadata = MetaData()
    people = people_table(metadata, collation)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            people.insert(),
            [
                {"id": key, "name": name, "email": email, "rank": key % 3}
                for key, (name, email) in EDGE_CASES.items()
            ],
        )
    info = (await reflect_catalog(engine)).tables["people"]
    found: dict[str, list[int]] = {}
    async with engine.connect() as conn:
        for query in SCANNABLE_QUERIES:
            search = search_for(info, query, conn.dialect)
            assert search.scan_condition is not None, query
            by_index = select(info.table.c.id).where(search.condition).order_by("id")
            by_scan = select(info.table.c.id).where(search.scan_condition).order_by("id")
            found[query] = list(await conn.scalars(by_index))
            assert list(await conn.scalars(by_scan)) == found[query], query
        for query in ["whe", "wher", "abou", "müller", "x" * 85]:
            assert search_for(info, query, conn.dialect).scan_condition is None, query
    # Word starts only: not after a letter, digit or _, and tokens InnoDB does not index
    # (over 84 characters) are left out; case as the collation says; accents as written.
    if collation == "utf8mb4_general_ci":
        assert found["boris"] == [1, 2, 5, 7, 10, 11, 13, 17, 23]
        assert found["Boris"] == found["BORIS"] == found["boris"]
        assert found["muller"] == [16]
        assert found["kelvin"] == found["sam"] == [21, 22]
        assert found["artagnan"] == [18]
    else:
        assert found["boris"] == [1, 2, 7, 10, 13, 17, 23]
        assert found["Boris"] == [1, 2, 11]
        assert found["BORIS"] == [5]
        assert found["artagnan"] == []  # "Artagnan": case counts in a binary collation
    assert found["boris lindqvist"] == found["lindqvist boris"] == [1, 17]
    assert found["dartagnan"] == [18]
    assert found["007"] == [19]
    assert found["marie"] == [20]
    assert found["borisx"] == [13]
    assert found["boris_"] == [10]
    assert found["_boris"] == []
    assert found["nothing"] == []


def test_only_plain_words_on_mariadb_may_be_scanned() -> None:
    mariadb = mysql.dialect()
    mariadb.is_mariadb = True
    oracle_mysql = mysql.dialect()
    assert scan_finds_the_same(["boris", "lindqvist_2", "007"], mariadb)
    assert not scan_finds_the_same(["boris"], oracle_mysql)
    assert not scan_finds_the_same(["boris"], postgresql.dialect())
    assert not scan_finds_the_same(["boris"], sqlite.dialect())
    for words in (["müller"], ["boris", "whe"], ["abou"], ["x" * 85], ["ab"]):
        assert not scan_finds_the_same(words, mariadb), words


WORDS_ROWS = 600
SPARSE_FROM = 201  # alpha in every other row before this id, and in every 50th row after


def word_rows() -> list[dict]:
    rows = []
    for key in range(1, WORDS_ROWS + 1):
        words = []
        if (key < SPARSE_FROM and key % 2 == 0) or (key >= SPARSE_FROM and key % 50 == 0):
            words.append("Alpha")
        if key == 333:
            words.append("Älpha")  # FULLTEXT alone would count it: the search does not
        if key == 555:
            words.append("rarity")
        if key % 3 == 0:
            words.append("gamma")
        name = " ".join(words) or "nothing here"
        rows.append({"id": key, "name": name, "email": f"user{key}@example.test", "rank": key % 7})
    return rows


def alpha_ids() -> list[int]:
    return [row["id"] for row in word_rows() if "Alpha" in row["name"]]


@pytest.fixture
async def words_client(engine: AsyncEngine, make_client, backend: str, monkeypatch):
    """A 600-row table where `alpha` is frequent up to id 200 and sparse after, `rarity` is
    in one row; the scan's bound cut to 40 rows so that this small table behaves as a big
    one does with the real bound."""
    mariadb_only(backend)
    monkeypatch.setattr(fulltext, "SCAN_ROWS_EXAMINED", 40)
    metadata = MetaData()
    people = people_table(metadata, "utf8mb4_general_ci")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(people.insert(), word_rows())
    return await make_client()


@contextmanager
def page_statements(client) -> Iterator[list[str]]:
    """The statements the app runs for pages of `people` (not counts or facets) meanwhile."""
    statements: list[str] = []
    sync_engine = client.server.app[READ_ENGINE].sync_engine

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT people.id, people.name, people.email"):
            statements.append(statement)

    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)


def plan_of(statements: list[str]) -> list[str]:
    return ["scan" if "ROWS EXAMINED" in s else "fulltext" for s in statements]


async def test_frequent_word_is_scanned_and_rare_one_found_through_the_index(
    words_client,
) -> None:
    client = words_client
    with page_statements(client) as statements:
        body = await (await client.get("/t/people?q=alpha&size=5")).text()
    assert page_ids(body, "people") == alpha_ids()[:5]
    assert plan_of(statements) == ["scan"]
    assert "FORCE INDEX (`PRIMARY`)" in statements[0] and "MATCH" not in statements[0]

    with page_statements(client) as statements:
        body = await (await client.get("/t/people?q=rarity&size=5")).text()
    assert page_ids(body, "people") == [555]
    assert plan_of(statements) == ["scan", "fulltext"]  # the scan fell short: the index
    assert "MATCH (people.name, people.email) AGAINST" in statements[1]
    # Now the count (1 row in 600) is known: the index answers at once.
    with page_statements(client) as statements:
        body = await (await client.get("/t/people?q=rarity&size=5")).text()
    assert page_ids(body, "people") == [555]
    assert plan_of(statements) == ["fulltext"]


@pytest.mark.parametrize("sort", ["rank", "-rank"])
async def test_sorted_by_an_indexed_column_the_scan_follows_that_index(
    words_client, sort: str
) -> None:
    client = words_client
    expected = sorted(alpha_ids(), key=lambda key: (key % 7, key), reverse=sort == "-rank")
    with page_statements(client) as statements:
        pages = await walk(client, f"/t/people?q=alpha&size=5&sort={sort}", "next", "people")
    assert [key for page in pages for key in page] == expected
    assert all("FORCE INDEX (`ix_people_rank`)" in s for s in statements if "ROWS EXAMINED" in s)
    if sort == "rank":  # rank 0 first: ids 7, 14, ...: every other one holds alpha
        assert plan_of(statements)[0] == "scan"


async def test_paging_across_the_switch_of_plans_shows_every_row_once(words_client) -> None:
    client = words_client
    with page_statements(client) as statements:
        forwards = await walk(client, "/t/people?q=alpha&size=5", "next", "people")
    assert [key for page in forwards for key in page] == alpha_ids()
    plans = plan_of(statements)
    assert plans[0] == "scan" and "fulltext" in plans  # dense rows scanned, sparse by index
    last = "/t/people?q=alpha&size=5"
    while (following := link(await (await client.get(last)).text(), "next")) is not None:
        last = following
    backwards = await walk(client, last, "prev", "people")
    assert backwards == list(reversed(forwards))


async def test_count_is_the_same_set_as_the_pages(words_client) -> None:
    client = words_client
    body = await (await client.get("/t/people?q=alpha&size=5")).text()
    assert f"Rows 1–5 of {len(alpha_ids())}" in body
    body = await (await client.get("/t/people?q=alpha+gamma&size=500")).text()
    both = [key for key in alpha_ids() if key % 3 == 0]
    assert page_ids(body, "people") == both
    assert f"of {len(both)}" in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("%lpha", "none"),
        (".lpha", "none"),
        ("alph_", "none"),
        ("a.pha", "none"),  # "a" is too short for the index: a LIKE for the literal text
        ("(alpha|gamma)", "both"),  # two words, both wanted: no alternation
        ("\\alpha", "alpha"),
        ("alpha.*", "alpha"),
        ("alp%", "alpha"),
    ],
)
async def test_wildcards_and_regex_characters_in_a_search_are_plain_text(
    words_client, query: str, expected: str
) -> None:
    client = words_client
    with page_statements(client) as statements:
        response = await client.get("/t/people", params={"q": query, "size": "500"})
    assert response.status == 200
    rows = {
        "none": [],
        "alpha": alpha_ids(),
        "both": [key for key in alpha_ids() if key % 3 == 0],
    }[expected]
    assert page_ids(await response.text(), "people") == rows
    assert statements and not any("lpha" in statement for statement in statements)


async def test_bounded_scans_read_the_forced_index_in_order_without_sorting(
    engine: AsyncEngine, backend: str
) -> None:
    mariadb_only(backend)
    metadata = MetaData()
    people = people_table(metadata, "utf8mb4_general_ci")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(people.insert(), word_rows())
        await conn.execute(text("ANALYZE TABLE people"))
    info = (await reflect_catalog(engine)).tables["people"]
    assert info.scan_orders == {("id",): "PRIMARY", ("rank", "id"): "ix_people_rank"}
    async with engine.connect() as conn:
        search = search_for(info, "alpha", conn.dialect)
        assert search.scan_condition is not None
        # A filter on the indexed column tempts the optimizer to use that index and sort.
        where = [search.scan_condition, info.table.c.rank == 3]
        for sort, index in [
            (None, "PRIMARY"),
            (SortKey(info.table.c.id, True), "PRIMARY"),
            (SortKey(info.table.c.rank, False), "ix_people_rank"),
            (SortKey(info.table.c.rank, True), "ix_people_rank"),
        ]:
            for reverse in (False, True):
                statement = page_statement(
                    info, [info.table.c.id], sort, where=where, limit=6, reverse=reverse
                )
                compiled = bounded_scan(statement, info.table, index).compile(conn)
                values = tuple(compiled.params[name] for name in compiled.positiontup or ())
                result = await conn.exec_driver_sql(f"EXPLAIN {compiled}", values)
                plan = result.mappings().one()
                assert plan["key"] == index
                assert "filesort" not in (plan["Extra"] or "")


async def test_scan_orders_leave_out_indexes_that_cannot_give_the_order(
    engine: AsyncEngine, backend: str
) -> None:
    mariadb_only(backend)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE odd (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(50) NOT NULL, "
                "c INT NOT NULL, d INT NOT NULL, KEY ix_a (a), KEY ix_b (b(10)), KEY ix_c (c DESC),"
                " KEY ix_da (d, a)) ENGINE=InnoDB"
            )
        )
        await conn.execute(text("CREATE TABLE plain (id INT PRIMARY KEY, a INT) ENGINE=MyISAM"))
    catalog = await reflect_catalog(engine)
    assert catalog.tables["odd"].scan_orders == {
        ("id",): "PRIMARY",
        ("a", "id"): "ix_a",
        ("d", "a", "id"): "ix_da",
    }
    assert catalog.tables["plain"].scan_orders == {}


def test_search_words_reach_sql_only_as_bound_parameters() -> None:
    mariadb = mysql.dialect()
    mariadb.is_mariadb = True
    metadata = MetaData()
    people = people_table(metadata, "utf8mb4_general_ci")
    pattern = re.compile("lindqvist", re.IGNORECASE)
    condition = fulltext.word_prefixes([people.c.name, people.c.email], ["Lindqvist"])
    compiled = select(people.c.id).where(condition).compile(dialect=mariadb)
    assert not pattern.search(str(compiled))
    assert any(pattern.search(str(value)) for value in compiled.params.values())
