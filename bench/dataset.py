"""The benchmark's data: a deterministic `owners` (1,000 rows) and `records` (1,000,000 rows
by default) in MariaDB, generated inside the server from its SEQUENCE engine, so loading
takes seconds to a minute and every run measures the very same rows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pymysql
from sqlalchemy.engine import URL

OWNER_ROWS = 1_000
LOAD_CHUNK_ROWS = 100_000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


STATUSES = ("active", "pending", "suspended", "closed", "archived")
FIRST_NAMES = _words(
    "Anna Boris Clara David Elena Farid Greta Hugo Ingrid Jonas Kaori Liam Maja Nils Olga "
    "Pablo Quinn Rosa Stefan Tanja Ulrich Vera Wilma Xaver Yusuf Zofia Amir Bianca Carlos "
    "Dagny Emil Fatima Georg Hanna Ivan Julia Karim Lena Marco Nora"
)
LAST_NAMES = _words(
    "Andersson Baker Castro Dubois Eriksen Fischer Garcia Hansen Ito Jensen Kowalski Larsen "
    "Moreau Nakamura Olsen Petrov Quinlan Rossi Schmidt Tanaka Ullman Vargas Weber Xu "
    "Yilmaz Zimmermann Almeida Becker Costa Dimitrov Esposito Ferreira Gruber Horvath "
    "Ivanova Johansson Keller Lindqvist Meyer Novak Ortiz Pereira Quiroga Richter Santos "
    "Thomsen Urbanek Varga Wagner Yamamoto Zeller Abbott Bauer Conti Duarte Engel Fontaine "
    "Galli Hoffmann Iglesias Jovanovic Kruger Lombardi Marino Nielsen Oliveira Pavlov Ramos "
    "Sorensen Torres Uribe Vogel Wolff Young Zanetti Arnold Brandt Colombo Dahl Eklund "
    "Fuchs Gomes Hartmann Ibarra Jung Koch Lehmann Mendes Neumann Otto Peters Rodrigues "
    "Schulz Tavares Ulrich Vidal Winter Ziegler Alves Berg"
)
DOMAINS = ("example.com", "example.org", "example.net", "mail.test", "corp.test")

SCHEMA = (
    "DROP TABLE IF EXISTS records",
    "DROP TABLE IF EXISTS owners",
    """CREATE TABLE owners (
        id INT NOT NULL PRIMARY KEY,
        name VARCHAR(100) NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    f"""CREATE TABLE records (
        id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        owner_id INT NOT NULL,
        name VARCHAR(100) NOT NULL,
        email VARCHAR(150) NOT NULL,
        status ENUM({", ".join(repr(s) for s in STATUSES)}) NOT NULL,
        amount DECIMAL(12,2) NOT NULL,
        created_at DATETIME NOT NULL,
        notes TEXT NULL,
        CONSTRAINT fk_records_owner FOREIGN KEY (owner_id) REFERENCES owners (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
)

# Built after the load: one sort per index instead of a million random index updates.
# The FULLTEXT index comes last, so its presence says that a load ran to the end.
INDEXES = (
    "ALTER TABLE records ADD INDEX ix_records_status (status), "
    "ADD INDEX ix_records_created_at (created_at)",
    "ALTER TABLE records ADD FULLTEXT INDEX ft_records_name_email (name, email)",
)
LAST_INDEX = "ft_records_name_email"

# Small tables of the same shape (the first rows of records, with the foreign key to owners
# and the same indexes): page 1 of these and of the big table should cost the same.
SMALL_TABLES = {"records_1k": 1_000, "records_10k": 10_000}


def _elt(index_sql: str, words: tuple[str, ...] | list[str]) -> str:
    quoted = ", ".join(f"'{word}'" for word in words)
    return f"ELT(1 + ({index_sql}), {quoted})"


FIRST = _elt(f"seq % {len(FIRST_NAMES)}", FIRST_NAMES)
LAST = _elt(f"(seq * 37) % {len(LAST_NAMES)}", LAST_NAMES)

OWNERS_INSERT = (
    "INSERT INTO owners (id, name) SELECT seq, CONCAT("
    + _elt(f"(seq * 7) % {len(LAST_NAMES)}", LAST_NAMES)
    + ", ' ', "
    + _elt("seq % 5", ("Ltd", "GmbH", "Inc", "AB", "Oy"))
    + f", ' #', seq) FROM seq_1_to_{OWNER_ROWS}"
)

# Every value is a function of the row number alone. created_at grows with id (plus a
# scrambled hour of jitter), as it does in a real table; notes are NULL on every tenth row
# and longer than the 200-character list preview on some.
RECORDS_SELECT = f"""SELECT
    seq,
    1 + (seq * 7919) % {OWNER_ROWS},
    CONCAT({FIRST}, ' ', {LAST}),
    CONCAT(LOWER({FIRST}), '.', LOWER({LAST}), seq, '@', {_elt("seq % 5", DOMAINS)}),
    CASE WHEN (seq * 13) % 100 < 55 THEN 'active'
         WHEN (seq * 13) % 100 < 75 THEN 'pending'
         WHEN (seq * 13) % 100 < 85 THEN 'suspended'
         WHEN (seq * 13) % 100 < 95 THEN 'closed'
         ELSE 'archived' END,
    ((seq * 7907) % 10000000) / 100,
    TIMESTAMP '2020-01-01 00:00:00' + INTERVAL (seq * 150 + (seq * 7919) % 3600) SECOND,
    CASE WHEN seq % 10 = 0 THEN NULL
         ELSE REPEAT(CONCAT('Note ', seq, ': ', {LAST}, ' called about the order. '),
                     1 + seq % 7) END
FROM seq_{{start}}_to_{{stop}}"""

RECORDS_INSERT = (
    "INSERT INTO records (id, owner_id, name, email, status, amount, created_at, notes) "
    + RECORDS_SELECT
)


@dataclass(frozen=True)
class DatabaseServer:
    host: str
    port: int
    user: str
    password: str | None

    @classmethod
    def from_url(cls, url: URL) -> DatabaseServer:
        return cls(url.host or "127.0.0.1", url.port or 3306, url.username or "root", url.password)

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or "",
            database=database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=10,
        )


def ensure_dataset(
    server: DatabaseServer,
    database: str,
    rows: int,
    *,
    reload: bool,
    say: Callable[[str], None] = print,
) -> bool:
    """Make `database` hold the benchmark tables with `rows` records; load them only when
    missing, incomplete, of another size, or when `reload` asks. True if it loaded."""
    if not 1_000 <= rows <= 100_000_000:
        raise ValueError(f"--rows must be from 1,000 to 100,000,000, not {rows}")
    if not database.replace("_", "").isalnum():
        raise ValueError(f"database name must be letters, digits and _: {database!r}")
    with server.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
        cursor.execute(f"USE `{database}`")
        if not reload and _is_complete(cursor, rows):
            say(f"data: {database} already holds {rows:,} records (--reload to rebuild)")
            _ensure_small_tables(cursor, say)
            return False
        _load(cursor, rows, say)
        _ensure_small_tables(cursor, say, reload=True)
    return True


def _ensure_small_tables(
    cursor: pymysql.cursors.Cursor, say: Callable[[str], None], *, reload: bool = False
) -> None:
    """Copy the first rows of records into each of SMALL_TABLES that is missing or of
    another size."""
    for name, rows in SMALL_TABLES.items():
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = %s",
            (name,),
        )
        if not reload and _fetch_row(cursor)[0]:
            cursor.execute(f"SELECT COUNT(*) FROM {name}")
            if _fetch_row(cursor)[0] == rows:
                continue
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TABLE {name} LIKE records")  # columns and indexes, no FK
        cursor.execute(
            f"ALTER TABLE {name} ADD CONSTRAINT fk_{name}_owner "
            "FOREIGN KEY (owner_id) REFERENCES owners (id)"
        )
        cursor.execute(f"INSERT INTO {name} SELECT * FROM records WHERE id <= {rows}")
        cursor.execute(f"ANALYZE TABLE {name}")
        cursor.fetchall()
        say(f"data: {name} holds the first {rows:,} records")


def _fetch_row(cursor: pymysql.cursors.Cursor) -> tuple[Any, ...]:
    """The one row of an aggregate query (which always has one)."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the server returned no row for an aggregate query")
    return row


def _is_complete(cursor: pymysql.cursors.Cursor, rows: int) -> bool:
    cursor.execute(
        "SELECT COUNT(*) FROM information_schema.statistics "
        "WHERE table_schema = DATABASE() AND table_name = 'records' AND index_name = %s",
        (LAST_INDEX,),
    )
    if _fetch_row(cursor)[0] == 0:
        return False
    cursor.execute("SELECT (SELECT COUNT(*) FROM owners), (SELECT COUNT(*) FROM records)")
    owners, records = _fetch_row(cursor)
    return owners == OWNER_ROWS and records == rows


def _load(cursor: pymysql.cursors.Cursor, rows: int, say: Callable[[str], None]) -> None:
    started = time.monotonic()
    say(f"data: loading {OWNER_ROWS:,} owners and {rows:,} records")
    for statement in SCHEMA:
        cursor.execute(statement)
    cursor.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
    cursor.execute(OWNERS_INSERT)
    for start in range(1, rows + 1, LOAD_CHUNK_ROWS):
        stop = min(start + LOAD_CHUNK_ROWS - 1, rows)
        cursor.execute("START TRANSACTION")
        cursor.execute(RECORDS_INSERT.format(start=start, stop=stop))
        cursor.execute("COMMIT")
        say(f"data:   {stop:,} records ({time.monotonic() - started:.0f} s)")
    cursor.execute("SET SESSION foreign_key_checks = 1, unique_checks = 1")
    for statement in INDEXES:
        cursor.execute(statement)
    say(f"data:   indexes built ({time.monotonic() - started:.0f} s)")
    cursor.execute("ANALYZE TABLE owners, records")
    cursor.fetchall()
    say(f"data: loaded and analyzed in {time.monotonic() - started:.0f} s")


def ensure_buffer_pool(server: DatabaseServer, database: str) -> str:
    """Grow InnoDB's buffer pool (a dynamic setting on MariaDB 10.2+ and MySQL 5.7+) until it
    holds the benchmark's tables, as any server sized for its data would: with the default
    128 MB and a 330 MB table, every uncached row costs a page read, and the benchmark
    would measure the server's sizing instead of the app. Returns what it did, for the
    report; it never shrinks the pool."""
    connection = server.connect(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                "information_schema.tables WHERE table_schema = DATABASE()"
            )
            needed = int(_fetch_row(cursor)[0]) * 3 // 2 + (64 << 20)
            cursor.execute("SELECT @@innodb_buffer_pool_size")
            current = int(_fetch_row(cursor)[0])
            if current >= needed:
                return f"InnoDB buffer pool {current >> 20:,} MB (holds the data)"
            target = ((needed >> 27) + 1) << 27  # whole 128 MB chunks
            cursor.execute(f"SET GLOBAL innodb_buffer_pool_size = {target}")
            return (
                f"InnoDB buffer pool grown from {current >> 20:,} MB to {target >> 20:,} MB "
                "to hold the data"
            )
    finally:
        connection.close()
