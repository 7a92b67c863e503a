"""A hostile corpus per backend: every column type the backend has, each holding its edge
values (empty, NULL, extremes, special floats, zero and infinite dates, invalid encodings
where the backend stores them), awkward identifiers, composite keys, a table without a
primary key, views. The corpus is split into classes, each arranged in a database of its
own, so that one class the app cannot handle yet does not hide what the others find."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@dataclass(frozen=True)
class CorpusClass:
    """One class of hostile schema: statements run in order on one connection."""

    name: str
    statements: tuple[str, ...]


def _class(name: str, *statements: str) -> CorpusClass:
    return CorpusClass(name, statements)


# --- MariaDB / MySQL ---------------------------------------------------------------------------

MYSQL_LONGEST = "l" * 64  # identifiers: at most 64 characters

MYSQL: tuple[CorpusClass, ...] = (
    _class(
        "integers",
        """CREATE TABLE ints (
            id INT PRIMARY KEY,
            ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED,
            mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
            bi BIGINT, bu BIGINT UNSIGNED)""",
        "INSERT INTO ints VALUES (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0,"
        " -9223372036854775808, 0)",
        "INSERT INTO ints VALUES (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647,"
        " 4294967295, 9223372036854775807, 18446744073709551615)",
        "INSERT INTO ints VALUES (3, 0, 1, 0, 1, 0, 1, 0, 1, 0, 9223372036854775808)",
        "INSERT INTO ints VALUES (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    ),
    _class(
        "tinyint_bool",
        "CREATE TABLE flags (id INT PRIMARY KEY, b TINYINT(1), bb BOOLEAN NOT NULL)",
        "INSERT INTO flags VALUES (1, 0, 0), (2, 1, 1), (3, 2, -1), (4, -128, 127), (5, NULL, 0)",
    ),
    _class(
        "numbers",
        """CREATE TABLE nums (
            id INT PRIMARY KEY, d DECIMAL(65,30), d0 DECIMAL(10,0), du DECIMAL(5,2) UNSIGNED,
            f FLOAT, db DOUBLE, b1 BIT(1), b64 BIT(64))""",
        "INSERT INTO nums VALUES (1,"
        " 99999999999999999999999999999999999.999999999999999999999999999999,"
        " 9999999999, 999.99, 3.40282e38, 1.5e60, b'1',"
        " b'1111111111111111111111111111111111111111111111111111111111111111')",
        "INSERT INTO nums VALUES (2,"
        " -99999999999999999999999999999999999.999999999999999999999999999999,"
        " -9999999999, 0, -3.40282e38, -1.5e60, b'0', b'0')",
        "INSERT INTO nums VALUES (3, 0.000000000000000000000000000001, 0, 0.01, 1.17549e-38,"
        " 0.5, b'1', b'1')",
        "INSERT INTO nums VALUES (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        "INSERT INTO nums VALUES (5, 0, 0, 0, 0.1, 0.1, b'0', b'10000000')",
    ),
    _class(
        "double_extremes",
        "CREATE TABLE doubles (id INT PRIMARY KEY, d DOUBLE)",
        "INSERT INTO doubles VALUES (1, 1.7976931348623157e308), (2, -1.7976931348623157e308),"
        " (3, 2.2250738585072014e-308), (4, 4.9e-324), (5, 1e66), (6, 1.25e-10)",
    ),
    _class(
        "dates",
        """CREATE TABLE moments (
            id INT PRIMARY KEY, d DATE, dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP NULL,
            t TIME, t6 TIME(6), y YEAR)""",
        "INSERT INTO moments VALUES (1, '1000-01-01', '1000-01-01 00:00:00',"
        " '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01', '00:00:00',"
        " '00:00:00.000000', 1901)",
        "INSERT INTO moments VALUES (2, '9999-12-31', '9999-12-31 23:59:59',"
        " '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', '23:59:59',"
        " '23:59:59.999999', 2155)",
        "INSERT INTO moments VALUES (3, '2024-02-29', '2024-02-29 12:30:00',"
        " '2024-02-29 12:30:00.000001', '2024-02-29 12:30:00', '12:30:00', '12:30:00.5', 0)",
        "INSERT INTO moments VALUES (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    ),
    _class(
        "time_out_of_day",
        "CREATE TABLE spans (id INT PRIMARY KEY, t TIME, t6 TIME(6))",
        "INSERT INTO spans VALUES (1, '-838:59:59', '-838:59:59.000000'),"
        " (2, '838:59:59', '838:59:59.000000'), (3, '-00:00:01', '25:00:00.5')",
    ),
    _class(
        "zero_dates",
        "SET SESSION sql_mode = ''",
        "CREATE TABLE zeros (id INT PRIMARY KEY, d DATE, dt DATETIME, ts TIMESTAMP NULL,"
        " note VARCHAR(20))",
        "INSERT INTO zeros VALUES (1, '0000-00-00', '0000-00-00 00:00:00',"
        " '0000-00-00 00:00:00', 'zero')",
        "INSERT INTO zeros VALUES (2, '2024-00-00', '2024-01-00 10:00:00', NULL, 'part')",
        "INSERT INTO zeros VALUES (3, '2024-01-31', '2024-01-31 10:00:00',"
        " '2024-01-31 10:00:00', 'ok')",
    ),
    _class(
        "texts",
        """CREATE TABLE words (
            id INT PRIMARY KEY, c CHAR(10), v VARCHAR(255), tt TINYTEXT, t TEXT,
            mt MEDIUMTEXT, lt LONGTEXT, vb VARCHAR(50) COLLATE utf8mb4_bin)""",
        "INSERT INTO words VALUES (1, '', '', '', '', '', '', '')",
        "INSERT INTO words VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        "INSERT INTO words VALUES (3, 'ünï 表', 'emoji 😀 <b>&amp;</b>', 'tab\there',"
        " 'line\\nbreak\\r\\nwindows', REPEAT('long ', 20000), REPEAT('x', 300), 'Case')",
        "INSERT INTO words VALUES (4, '  pad', ' lead and trail ', '''quote\"', '%_\\\\',"
        " '<script>alert(1)</script>', '', 'case')",
    ),
    _class(
        "text_controls",
        "CREATE TABLE controls (id INT PRIMARY KEY, v VARCHAR(50), t TEXT)",
        "INSERT INTO controls VALUES (1, CONCAT('nul', CHAR(0), 'x'), CONCAT('bell', CHAR(7)))",
        "INSERT INTO controls VALUES (2, CONCAT('esc', CHAR(27), '[1m'), CONCAT('del', CHAR(127)))",
        "INSERT INTO controls VALUES (3, 'c1 \u0085 \u009f', 'nonchar \ufdd0 \uffff')",
    ),
    _class(
        "latin1",
        "CREATE TABLE legacy (id INT PRIMARY KEY, name VARCHAR(50) CHARACTER SET latin1,"
        " other VARCHAR(50) CHARACTER SET utf8mb4)",
        "INSERT INTO legacy VALUES (1, 'café', 'emoji 😀'), (2, '', ''), (3, NULL, NULL)",
    ),
    _class(
        "binaries",
        """CREATE TABLE blobs (
            id INT PRIMARY KEY, b BINARY(4), vb VARBINARY(16), tb TINYBLOB, bl BLOB,
            mb MEDIUMBLOB, lb LONGBLOB)""",
        "INSERT INTO blobs VALUES (1, x'00000000', x'', x'', x'', x'', x'')",
        "INSERT INTO blobs VALUES (2, x'ffffffff', x'00ff00ff', x'c328', x'89504e470d0a1a0a',"
        " REPEAT(x'ab', 70000), 'plain text')",
        "INSERT INTO blobs VALUES (3, NULL, NULL, NULL, NULL, NULL, NULL)",
    ),
    _class(
        "enums",
        "CREATE TABLE choices (id INT PRIMARY KEY, e ENUM('a', 'b c', 'ünï', '<&>'),"
        " en ENUM('x', 'y') NOT NULL)",
        "INSERT INTO choices VALUES (1, 'a', 'x'), (2, 'b c', 'y'), (3, '<&>', 'x'),"
        " (4, 'ünï', 'y'), (5, NULL, 'x')",
    ),
    _class(
        "enum_empty_member",
        "CREATE TABLE choices (id INT PRIMARY KEY, e ENUM('a', ''))",
        "INSERT INTO choices VALUES (1, 'a'), (2, ''), (3, NULL)",
    ),
    _class(
        "sets",
        "CREATE TABLE tags (id INT PRIMARY KEY, s SET('a', 'b', 'c d'), sn SET('x') NOT NULL)",
        "INSERT INTO tags VALUES (1, '', ''), (2, 'a', 'x'), (3, 'a,b,c d', 'x'), (4, NULL, '')",
    ),
    _class(
        "json",
        "CREATE TABLE docs (id INT PRIMARY KEY, j JSON)",
        "INSERT INTO docs VALUES (1, '{}'), (2, '[]'), (3, 'null'), (4, '\"text\"'),"
        ' (5, \'{"k": [1, 2.5, null, true], "ü": "表"}\'), (6, NULL),'
        ' (7, \'12345678901234567890123\'), (8, \'{"a": {"b": {"c": "<x>"}}}\')',
    ),
    _class(
        "geometry",
        """CREATE TABLE shapes (
            id INT PRIMARY KEY, g GEOMETRY, p POINT, l LINESTRING, pg POLYGON,
            mp MULTIPOINT, gc GEOMETRYCOLLECTION)""",
        "INSERT INTO shapes VALUES (1, ST_GeomFromText('POINT(1 2)'),"
        " ST_GeomFromText('POINT(-180 90)'), ST_GeomFromText('LINESTRING(0 0, 1 1)'),"
        " ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))'),"
        " ST_GeomFromText('MULTIPOINT(1 1, 2 2)'),"
        " ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1))'))",
        "INSERT INTO shapes VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL)",
    ),
    _class(
        "names",
        "CREATE TABLE `select` (`order` INT PRIMARY KEY, `from` VARCHAR(20))",
        "INSERT INTO `select` VALUES (1, 'reserved')",
        "CREATE TABLE `my \"quoted\" 'table'` (`a col` INT PRIMARY KEY, `50%` VARCHAR(20),"
        " `sl/ash` VARCHAR(20), `do.t` VARCHAR(20), `ünï 表` VARCHAR(20), ` lead` VARCHAR(20))",
        "INSERT INTO `my \"quoted\" 'table'` VALUES (1, '%', '/', '.', '表', ' ')",
        f"CREATE TABLE `{MYSQL_LONGEST}` (`{MYSQL_LONGEST}` INT PRIMARY KEY,"
        f" `{'c' * 64}` VARCHAR(10))",
        f"INSERT INTO `{MYSQL_LONGEST}` VALUES (1, 'longest')",
        "CREATE TABLE `pair key` (`k 1` VARCHAR(10), `k/2` INT, v VARCHAR(10),"
        " PRIMARY KEY (`k 1`, `k/2`))",
        "INSERT INTO `pair key` VALUES ('a/b', 1, 'x'), ('', 2, 'empty key'),"
        " ('50%', -1, NULL), ('ü,.', 0, 'comma')",
        "CREATE TABLE ` 50% a/b.c` (id INT PRIMARY KEY, `x__exact` INT, `sort` VARCHAR(5),"
        " `q` VARCHAR(5))",
        "INSERT INTO ` 50% a/b.c` VALUES (1, 1, 'a', 'b'), (2, NULL, '', NULL)",
        "CREATE TABLE `no key` (a INT, b VARCHAR(10))",
        "INSERT INTO `no key` VALUES (1, 'x'), (1, 'x'), (NULL, NULL)",
        "CREATE VIEW `a view` AS SELECT `k 1`, v FROM `pair key`",
    ),
    _class(
        "backtick_names",
        "CREATE TABLE `back``tick` (`id` INT PRIMARY KEY, `co``l` VARCHAR(20))",
        "INSERT INTO `back``tick` VALUES (1, 'x'), (2, NULL)",
    ),
)


# --- PostgreSQL -------------------------------------------------------------------------------

PG_LONGEST = "l" * 63  # identifiers: at most 63 bytes

POSTGRESQL: tuple[CorpusClass, ...] = (
    _class(
        "integers",
        "CREATE TABLE ints (id serial PRIMARY KEY, s smallint, i integer, b bigint, bs bigserial)",
        "INSERT INTO ints (s, i, b) VALUES (-32768, -2147483648, -9223372036854775808),"
        " (32767, 2147483647, 9223372036854775807), (0, 0, 0), (NULL, NULL, NULL)",
    ),
    _class(
        "numbers",
        "CREATE TABLE nums (id int PRIMARY KEY, n numeric, n2 numeric(10,2), r real,"
        " d double precision)",
        "INSERT INTO nums VALUES (1, 123456789012345678901234567890.123456789012345678901,"
        " 99999999.99, 3.4028235e38, 1.7976931348623157e308),"
        " (2, -0.000000000000000000000000000001, -99999999.99, -1.1754944e-38,"
        " -2.2250738585072014e-308), (3, 0, 0, 0.1, 0.1), (4, NULL, NULL, NULL, NULL)",
    ),
    _class(
        "special_floats",
        "CREATE TABLE specials (id int PRIMARY KEY, r real, d double precision)",
        "INSERT INTO specials VALUES (1, 'NaN', 'NaN'), (2, 'Infinity', 'Infinity'),"
        " (3, '-Infinity', '-Infinity'), (4, '-0', '-0')",
    ),
    _class(
        "numeric_special",
        "CREATE TABLE nspecials (id int PRIMARY KEY, n numeric)",
        "INSERT INTO nspecials VALUES (1, 'NaN'), (2, 'Infinity'), (3, '-Infinity'), (4, 1.5)",
    ),
    _class(
        "money",
        "CREATE TABLE cash (id int PRIMARY KEY, m money)",
        "INSERT INTO cash VALUES (1, '-92233720368547758.08'), (2, '92233720368547758.07'),"
        " (3, 0), (4, NULL)",
    ),
    _class(
        "booleans",
        "CREATE TABLE flags (id int PRIMARY KEY, b boolean, bn boolean NOT NULL)",
        "INSERT INTO flags VALUES (1, true, true), (2, false, false), (3, NULL, true)",
    ),
    _class(
        "dates",
        "CREATE TABLE moments (id int PRIMARY KEY, d date, ts timestamp(6),"
        " tz timestamptz, t time(6), ttz timetz)",
        "INSERT INTO moments VALUES (1, '0001-01-02', '0001-01-02 00:00:00',"
        " '0001-01-01 12:00:00+00', '00:00:00', '00:00:00+14')",
        "INSERT INTO moments VALUES (2, '9999-12-30', '9999-12-31 23:59:59.999998',"
        " '9999-12-30 23:59:59.999999+00', '23:59:59.999999', '23:59:59-12')",
        "INSERT INTO moments VALUES (3, NULL, NULL, NULL, NULL, NULL)",
    ),
    _class(
        "date_extremes",
        "CREATE TABLE edges (id int PRIMARY KEY, d date, ts timestamp)",
        "INSERT INTO edges VALUES (1, '0001-01-01', '0001-01-01 00:00:00'),"
        " (2, '9999-12-31', '9999-12-31 23:59:59.999999')",
    ),
    _class(
        "infinite_dates",
        "CREATE TABLE endless (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz)",
        "INSERT INTO endless VALUES (1, 'infinity', 'infinity', 'infinity'),"
        " (2, '-infinity', '-infinity', '-infinity'), (3, '2024-01-31', '2024-01-31 10:00',"
        " '2024-01-31 10:00+02'), (4, '9999-12-31', '9999-12-31 23:59:59.999999',"
        " '9999-12-31 23:59:59.999999+00'), (5, '0001-01-01', '0001-01-01 00:00',"
        " '0001-01-01 00:00+00')",
    ),
    _class(
        "out_of_range_dates",
        "CREATE TABLE ancient (id int PRIMARY KEY, d date, ts timestamp, t time)",
        "INSERT INTO ancient VALUES (1, '4713-01-01 BC', '4713-01-01 00:00 BC', '24:00:00'),"
        " (2, '294276-12-31', '294276-12-31 23:59:59', '00:00'), (3, '2024-01-31', NULL, NULL)",
    ),
    _class(
        "intervals",
        "CREATE TABLE spans (id int PRIMARY KEY, i interval)",
        "INSERT INTO spans VALUES (1, '1 year 2 months 3 days 04:05:06.789'),"
        " (2, '-178000000 years'), (3, '1 month'), (4, '00:00:00'), (5, NULL),"
        " (6, '30 days'), (7, '1 day'), (8, '24:00:00')",
    ),
    _class(
        "texts",
        "CREATE EXTENSION IF NOT EXISTS citext",
        "CREATE TABLE words (id int PRIMARY KEY, t text, v varchar(255), c char(10),"
        ' ci citext, "C" text COLLATE "C")',
        "INSERT INTO words VALUES (1, '', '', '', '', ''), (2, NULL, NULL, NULL, NULL, NULL),"
        " (3, 'ünï 表 😀', '<b>&amp;</b>', 'pad', 'MiXeD', 'tab\there'),"
        " (4, repeat('long ', 20000), E'line\\nbreak\\r\\nwin', ' ', ' lead ', '%_\\\\')",
    ),
    _class(
        "text_controls",
        "CREATE TABLE controls (id int PRIMARY KEY, t text)",
        "INSERT INTO controls VALUES (1, E'bell\\x07'), (2, E'esc\\x1b[1m'), (3, E'del\\x7f'),"
        " (4, E'c1 \\u0085 \\u009f'), (5, E'nonchar \\ufdd0 \\uffff')",
    ),
    _class(
        "binaries",
        "CREATE TABLE blobs (id int PRIMARY KEY, b bytea)",
        "INSERT INTO blobs VALUES (1, ''), (2, '\\x00ff00ff'), (3, NULL),"
        " (4, decode(repeat('ab', 70000), 'hex')), (5, 'plain text')",
    ),
    _class(
        "uuids",
        "CREATE TABLE ids (id uuid PRIMARY KEY, other uuid)",
        "INSERT INTO ids VALUES ('00000000-0000-0000-0000-000000000000', NULL),"
        " ('ffffffff-ffff-ffff-ffff-ffffffffffff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
    ),
    _class(
        "json",
        "CREATE TABLE docs (id int PRIMARY KEY, j json, jb jsonb)",
        "INSERT INTO docs VALUES (1, '{}', '{}'), (2, '[]', '[]'), (3, 'null', 'null'),"
        ' (4, \'"text"\', \'"text"\'), (5, \'{"k": [1, 2.5, null, true], "ü": "表"}\','
        ' \'{"a": {"b": "<x>"}}\'), (6, NULL, NULL),'
        " (7, '12345678901234567890.5', '12345678901234567890.5'),"
        ' (8, \'{"dup": 1, "dup": 2}\', \'{"dup": 1, "dup": 2}\')',
    ),
    _class(
        "arrays",
        "CREATE TABLE lists (id int PRIMARY KEY, ia int[], ta text[], m int[][], e text[])",
        'INSERT INTO lists VALUES (1, \'{1,2,NULL}\', \'{"a b","",NULL,"q\\"t"}\','
        " '{{1,2},{3,4}}', '{}'), (2, NULL, NULL, NULL, NULL),"
        " (3, '{7,8}', '{ü}', '{}', '{\"\"}')",
    ),
    _class(
        "array_bounds",
        "CREATE TABLE lists (id int PRIMARY KEY, ia int[])",
        "INSERT INTO lists VALUES (1, '[0:1]={7,8}'), (2, '[-5:-5]={1}')",
    ),
    _class(
        "ranges",
        "CREATE TABLE spans (id int PRIMARY KEY, ir int4range, tr tsrange, dr daterange,"
        " nr numrange, mr int4multirange)",
        "INSERT INTO spans VALUES (1, '[1,10)', '[2024-01-01,2024-02-01)', '[2024-01-01,)',"
        " '(,1.5]', '{[1,2),[5,6)}'), (2, 'empty', 'empty', 'empty', 'empty', '{}'),"
        " (3, NULL, NULL, NULL, NULL, NULL), (4, '(,)', '(,)', '[-infinity,infinity]', '(,)',"
        " '{(,)}')",
    ),
    _class(
        "network",
        "CREATE TABLE hosts (id int PRIMARY KEY, i inet, c cidr, m macaddr, m8 macaddr8)",
        "INSERT INTO hosts VALUES (1, '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',"
        " '08:00:2b:01:02:03:04:05'), (2, '::1', '2001:db8::/32', '00:00:00:00:00:00',"
        " 'ff:ff:ff:ff:ff:ff:ff:ff'), (3, NULL, NULL, NULL, NULL)",
    ),
    _class(
        "bits",
        "CREATE TABLE bitsets (id int PRIMARY KEY, b bit(8), vb varbit(64))",
        "INSERT INTO bitsets VALUES (1, B'00000000', B''), (2, B'11111111', B'101'),"
        " (3, NULL, NULL)",
    ),
    _class(
        "documents",
        "CREATE TABLE texts (id int PRIMARY KEY, x xml, tv tsvector, tq tsquery)",
        "INSERT INTO texts VALUES (1, '<a b=\"1\">t&amp;</a>', 'fat:1 cat:2', 'fat & rat'),"
        " (2, NULL, NULL, NULL), (3, '', '', '')",
    ),
    _class(
        "geometric",
        "CREATE TABLE shapes (id int PRIMARY KEY, p point, l line, s lseg, b box, pa path,"
        " pg polygon, c circle)",
        "INSERT INTO shapes VALUES (1, '(1,2)', '{1,2,3}', '[(0,0),(1,1)]', '(1,1),(0,0)',"
        " '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),1>'),"
        " (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
        " (3, '(NaN,Infinity)', '{1,0,0}', '[(0,0),(0,0)]', '(0,0),(0,0)', '((0,0))',"
        " '((0,0))', '<(0,0),0>')",
    ),
    _class(
        "domains",
        "CREATE DOMAIN positive AS int CHECK (VALUE > 0)",
        "CREATE DOMAIN short_text AS varchar(5)",
        "CREATE TABLE measures (id positive PRIMARY KEY, label short_text, n positive)",
        "INSERT INTO measures VALUES (1, 'abcde', 1), (2, '', 2147483647), (3, NULL, NULL)",
    ),
    _class(
        "enums",
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'with space', '<&>')",
        "CREATE TABLE feelings (id int PRIMARY KEY, m mood, mm mood NOT NULL)",
        "INSERT INTO feelings VALUES (1, 'sad', 'ok'), (2, '<&>', 'with space'), (3, NULL, 'sad')",
    ),
    _class(
        "enum_empty_member",
        "CREATE TYPE mood AS ENUM ('ok', '')",
        "CREATE TABLE feelings (id int PRIMARY KEY, m mood)",
        "INSERT INTO feelings VALUES (1, 'ok'), (2, ''), (3, NULL)",
    ),
    _class(
        "partitioned",
        "CREATE TABLE events (id int, day date, what text, PRIMARY KEY (id, day))"
        " PARTITION BY RANGE (day)",
        "CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01')"
        " TO ('2024-01-01')",
        "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01')"
        " TO ('2025-01-01')",
        "INSERT INTO events VALUES (1, '2023-05-01', 'old'), (2, '2024-05-01', 'new')",
    ),
    _class(
        "materialized_view",
        "CREATE TABLE base (id int PRIMARY KEY, v text)",
        "INSERT INTO base VALUES (1, 'x'), (2, NULL)",
        "CREATE MATERIALIZED VIEW snapshot AS SELECT id, v FROM base",
    ),
    _class(
        "other_schema",
        'CREATE SCHEMA "second schema"',
        'CREATE TABLE "second schema".things (id int PRIMARY KEY, v text)',
        "INSERT INTO \"second schema\".things VALUES (1, 'x'), (2, NULL)",
        "CREATE TABLE things (id int PRIMARY KEY, v text)",
        "INSERT INTO things VALUES (1, 'public')",
    ),
    _class(
        "names",
        'CREATE TABLE "select" ("order" int PRIMARY KEY, "from" text)',
        "INSERT INTO \"select\" VALUES (1, 'reserved')",
        'CREATE TABLE "my ""quoted"" \'table\'" ("a col" int PRIMARY KEY, "50%" text,'
        ' "sl/ash" text, "do.t" text, "ünï 表" text, " lead " text, "back`tick" text)',
        "INSERT INTO \"my \"\"quoted\"\" 'table'\" VALUES (1, '%', '/', '.', '表', ' ', '`')",
        f'CREATE TABLE "{PG_LONGEST}" ("{PG_LONGEST}" int PRIMARY KEY, "{"c" * 63}" text)',
        f"INSERT INTO \"{PG_LONGEST}\" VALUES (1, 'longest')",
        'CREATE TABLE "pair key" ("k 1" text, "k/2" int, v text, PRIMARY KEY ("k 1", "k/2"))',
        "INSERT INTO \"pair key\" VALUES ('a/b', 1, 'x'), ('', 2, 'empty key'),"
        " ('50%', -1, NULL), ('ü,.', 0, 'comma')",
        'CREATE TABLE " 50% a/b.c " (id int PRIMARY KEY, "x__exact" int, "sort" text, "q" text)',
        "INSERT INTO \" 50% a/b.c \" VALUES (1, 1, 'a', 'b'), (2, NULL, '', NULL)",
        'CREATE TABLE "no key" (a int, b text)',
        "INSERT INTO \"no key\" VALUES (1, 'x'), (1, 'x'), (NULL, NULL)",
        'CREATE VIEW "a view" AS SELECT "k 1", v FROM "pair key"',
    ),
)


# --- SQLite -----------------------------------------------------------------------------------

SQLITE: tuple[CorpusClass, ...] = (
    _class(
        "affinities",
        "CREATE TABLE mixed (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB,"
        " n NUMERIC, v VARCHAR(10))",
        "INSERT INTO mixed VALUES (1, 1, 1.5, 'text', x'00ff', 1, 'short')",
        "INSERT INTO mixed VALUES (2, 'abc', 'not real', 42, 'text in blob', 'xyz',"
        " 'longer than ten characters')",
        "INSERT INTO mixed VALUES (3, 1.5, x'01', x'00ff', 7, x'02', 2.5)",
        "INSERT INTO mixed VALUES (4, NULL, NULL, NULL, NULL, NULL, NULL)",
        "INSERT INTO mixed VALUES (5, '', '', '', '', '', '')",
    ),
    _class(
        "extremes",
        "CREATE TABLE big (id INTEGER PRIMARY KEY, i INTEGER, r REAL, n NUMERIC)",
        "INSERT INTO big VALUES (9223372036854775807, 9223372036854775807, 1.7976931348623157e308,"
        " 99999999999999999999999)",
        "INSERT INTO big VALUES (-9223372036854775808, -9223372036854775808, -9e999, -1e-320)",
        "INSERT INTO big VALUES (0, 0, 9e999, 0.1)",
        "INSERT INTO big VALUES (1, NULL, -0.0, NULL)",
    ),
    _class(
        "dates",
        "CREATE TABLE moments (id INTEGER PRIMARY KEY, d DATE, dt DATETIME, t TIME)",
        "INSERT INTO moments VALUES (1, '2024-01-31', '2024-01-31 10:00:00', '10:00:00'),"
        " (2, '0001-01-01', '9999-12-31 23:59:59.999999', '23:59:59.999999'),"
        " (3, NULL, NULL, NULL)",
    ),
    _class(
        "empty_blob",
        "CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB)",
        "INSERT INTO blobs VALUES (1, x''), (2, x'00'), (3, NULL), (4, zeroblob(70000))",
    ),
    _class(
        "invalid_utf8",
        "CREATE TABLE broken (id INTEGER PRIMARY KEY, t TEXT, v VARCHAR(20))",
        "INSERT INTO broken VALUES (1, CAST(x'ff' AS TEXT), CAST(x'c328' AS TEXT)),"
        " (2, 'fine', 'fine')",
    ),
    _class(
        "junk_booleans",
        "CREATE TABLE flags (id INTEGER PRIMARY KEY, b BOOLEAN)",
        "INSERT INTO flags VALUES (1, 0), (2, 1), (3, 'maybe'), (4, 2), (5, ''), (6, NULL),"
        " (7, 1.5), (8, x'01')",
    ),
    _class(
        "junk_dates",
        "CREATE TABLE moments (id INTEGER PRIMARY KEY, d DATE, dt DATETIME, t TIME,"
        " n NUMERIC, dec DECIMAL(10, 2))",
        "INSERT INTO moments VALUES (1, '2024-01-31', '2024-01-31 10:00:00', '10:00:00',"
        " 1.5, 1.25)",
        "INSERT INTO moments VALUES (2, 'not a date', 'yesterday', 'noon', 'abc', 'def')",
        "INSERT INTO moments VALUES (3, 20240131, 1706695200, 36000, x'00', 1e400)",
        "INSERT INTO moments VALUES (4, '', '', '', '', '')",
        "INSERT INTO moments VALUES (5, NULL, NULL, NULL, NULL, NULL)",
    ),
    _class(
        "texts",
        "CREATE TABLE words (id INTEGER PRIMARY KEY, t TEXT, v VARCHAR(5), c CHAR(3))",
        "INSERT INTO words VALUES (1, '', '', ''), (2, NULL, NULL, NULL),"
        " (3, 'ünï 表 😀', 'five!', '<b>'),"
        " (4, 'line' || char(10) || 'break' || char(13) || char(10), ' ', '%_\\')",
        "INSERT INTO words VALUES (5, printf('%.70000c', 'x'), 'x', 'y')",
    ),
    _class(
        "overlong_text",
        "CREATE TABLE words (id INTEGER PRIMARY KEY, v VARCHAR(5), c CHAR(1))",
        "INSERT INTO words VALUES (1, 'longer than five', 'more than one'), (2, 'ok', 'x')",
    ),
    _class(
        "text_controls",
        "CREATE TABLE controls (id INTEGER PRIMARY KEY, t TEXT)",
        "INSERT INTO controls VALUES (1, 'nul' || char(0) || 'x'), (2, 'bell' || char(7)),"
        " (3, 'esc' || char(27)), (4, 'del' || char(127)), (5, 'c1 ' || char(133)),"
        " (6, 'nonchar ' || char(64976) || char(65535))",
    ),
    _class(
        "names",
        'CREATE TABLE "select" ("order" INTEGER PRIMARY KEY, "from" TEXT)',
        "INSERT INTO \"select\" VALUES (1, 'reserved')",
        'CREATE TABLE "my ""quoted"" \'table\'" ("a col" INTEGER PRIMARY KEY, "50%" TEXT,'
        ' "sl/ash" TEXT, "do.t" TEXT, "ünï 表" TEXT, " lead " TEXT, "back`tick" TEXT,'
        ' "[br]" TEXT)',
        "INSERT INTO \"my \"\"quoted\"\" 'table'\" VALUES (1, '%', '/', '.', '表', ' ', '`', '[')",
        f'CREATE TABLE "{"l" * 200}" ("{"l" * 200}" INTEGER PRIMARY KEY, "{"c" * 200}" TEXT)',
        f"INSERT INTO \"{'l' * 200}\" VALUES (1, 'long')",
        'CREATE TABLE "pair key" ("k 1" TEXT, "k/2" INTEGER, v TEXT, PRIMARY KEY ("k 1", "k/2"))',
        "INSERT INTO \"pair key\" VALUES ('a/b', 1, 'x'), ('', 2, 'empty key'),"
        " ('50%', -1, NULL), ('ü,.', 0, 'comma')",
        'CREATE TABLE " 50% a/b.c " (id INTEGER PRIMARY KEY, "x__exact" INTEGER, "sort" TEXT,'
        ' "q" TEXT)',
        "INSERT INTO \" 50% a/b.c \" VALUES (1, 1, 'a', 'b'), (2, NULL, '', NULL)",
        'CREATE TABLE "no key" (a INTEGER, b TEXT)',
        "INSERT INTO \"no key\" VALUES (1, 'x'), (1, 'x'), (NULL, NULL)",
        'CREATE TABLE "without rowid" (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID',
        "INSERT INTO \"without rowid\" VALUES ('a', x'00'), ('b', NULL)",
        'CREATE VIEW "a view" AS SELECT "k 1", v FROM "pair key"',
    ),
)

CORPUS: dict[str, tuple[CorpusClass, ...]] = {
    "sqlite": SQLITE,
    "mysql": MYSQL,
    "postgresql": POSTGRESQL,
}


def corpus_class(backend: str, name: str) -> CorpusClass:
    return next(item for item in CORPUS[backend] if item.name == name)


async def arrange(engine: AsyncEngine, item: CorpusClass) -> None:
    """Run a class's statements as written (no parameters), on one connection."""
    async with engine.connect() as conn:
        for statement in item.statements:
            await conn.exec_driver_sql(driver_sql(conn, statement))
        await conn.commit()


def driver_sql(conn: AsyncConnection, statement: str) -> str:
    """`statement` as the driver must be given it: `format` drivers (aiomysql) read `%`."""
    if conn.dialect.paramstyle in ("format", "pyformat"):
        return statement.replace("%", "%%")
    return statement
