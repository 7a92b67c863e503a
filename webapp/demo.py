"""The demo database behind the embedded default configuration.

A newcomer who starts the app with the default SQLite URL should land on real-looking data
rather than an empty file, so on first start :func:`install_demo` creates a small bookshop
schema and fills it. The data set is meant to exercise the browser: a table big enough to need
paging and fast counting (``orders``), a composite primary key (``order_items``), foreign
keys, enums, JSON, NULLs next to empty strings, binary values with NUL bytes, unicode, decimals
and microsecond datetimes, plus a view.

The same code runs on SQLite, MySQL/MariaDB and PostgreSQL. Rows come from a local
``random.Random`` with a fixed seed and fixed base dates, so every install is identical.
"""

from __future__ import annotations

import datetime as dt
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from random import Random
from typing import Any

from aiohttp import web
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    insert,
    inspect,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from webapp.database.dialects import create_engine
from webapp.database.engine import unusable_database
from webapp.schema.catalog import reflect_catalog
from webapp.settings import Settings
from webapp.web.appkeys import ENGINE, SETTINGS, STARTUP_PROGRESS

__all__ = ["DEMO_TABLES", "DEMO_VIEWS", "DemoBase", "DemoSize", "install_demo"]

SEED = 2024
BATCH_SIZE = 5_000
DEFAULT_ORDERS = 100_000
# One order in five has line items: 20,000 of the default 100,000.
ITEMS_EVERY = 5

MY_TABLE_ROWS = 20
AUTHOR_ROWS = 200
BOOK_ROWS = 2_000
CUSTOMER_ROWS = 5_000


@dataclass(frozen=True)
class DemoSize:
    """How many authors, books and customers the demo holds: the demo's own numbers by
    default, fewer where only its shape matters (as in tests)."""

    authors: int = AUTHOR_ROWS
    books: int = BOOK_ROWS
    customers: int = CUSTOMER_ROWS


BASE_DATE = dt.date(1900, 1, 1)
BASE_TIME = dt.datetime(2019, 1, 1, 8, 0, 0)
ORDERS_START = dt.datetime(2021, 1, 1, 0, 0, 0)

GENRES = ("fiction", "non-fiction", "poetry", "reference", "children")
ORDER_STATUSES = ("pending", "paid", "shipped", "cancelled")
# Most old orders have shipped; a few are still open or were cancelled.
STATUS_WEIGHTS = (13, 20, 60, 7)


def _datetime() -> DateTime:
    """A DATETIME that keeps microseconds: MySQL/MariaDB drop them unless fsp=6 is asked for."""
    return DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class DemoBase(DeclarativeBase):
    """Separate metadata so the demo schema never mixes with anything else the app declares."""


class MyTable(DemoBase):
    __tablename__ = "my_table"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)


class Author(DemoBase):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    born: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    biography: Mapped[str | None] = mapped_column(Text, nullable=True)
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Book(DemoBase):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    author_id: Mapped[int] = mapped_column(
        ForeignKey("authors.id", ondelete="RESTRICT"), nullable=False
    )
    isbn: Mapped[str | None] = mapped_column(String(13), unique=True)
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    published_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    in_print: Mapped[bool] = mapped_column(Boolean, nullable=False)
    genre: Mapped[str | None] = mapped_column(Enum(*GENRES, name="book_genre"))
    rating: Mapped[float | None] = mapped_column(Float, nullable=True)


class Customer(DemoBase):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[dt.datetime | None] = mapped_column(_datetime())
    vip: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Order(DemoBase):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    placed_at: Mapped[dt.datetime | None] = mapped_column(_datetime())
    status: Mapped[str | None] = mapped_column(Enum(*ORDER_STATUSES, name="order_status"))
    total: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    shipping: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)


class OrderItem(DemoBase):
    __tablename__ = "order_items"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id"))
    quantity: Mapped[int | None] = mapped_column(Integer)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))


DEMO_TABLES: tuple[str, ...] = tuple(DemoBase.metadata.tables)
DEMO_VIEWS: tuple[str, ...] = ("book_sales",)

# Plain SQL that every backend accepts: unquoted lower-case names, an inner join, GROUP BY on
# every selected non-aggregate column.
BOOK_SALES_VIEW = """
CREATE VIEW book_sales AS
SELECT books.id AS book_id, books.title AS title, SUM(order_items.quantity) AS copies
FROM books
JOIN order_items ON order_items.book_id = books.id
GROUP BY books.id, books.title
"""

# --- word lists --------------------------------------------------------------------------------

FIRST_NAMES = (
    "Alice", "Bruno", "Chloé", "Daniel", "Elena", "François", "Greta", "Hiroshi", "Ingrid",
    "Jamal", "Katarzyna", "Liam", "María", "Nikolai", "Olivia", "Pedro", "Quentin", "Rania",
    "Søren", "Tomás", "Uma", "Valentina", "Wei", "Xavier", "Yuki", "Zoë", "Ana", "Björn",
    "Carmen", "Dmitri", "Emma", "Fatima", "George", "Hannah", "Ivan", "Julia",
)  # fmt: skip
LAST_NAMES = (
    "Anderson", "Baker", "Castillo", "Dubois", "Eriksson", "Fischer", "García", "Hoffmann",
    "Ivanova", "Jensen", "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Petrović",
    "Quinn", "Rossi", "Schmidt", "Tanaka", "Ünal", "Virtanen", "Wójcik", "Xu", "Yamamoto",
    "Zimmermann", "Brontë", "Núñez", "Moreau", "Chen",
)  # fmt: skip
# A few authors with names in other scripts, so unicode shows up in lists and searches.
UNICODE_AUTHORS = (
    "村上 春樹",
    "Фёдор Достоевский",
    "Gabriel García Márquez",
    "김영하",
    "Jostein 🌍 Gaarder",
)

TITLE_ADJECTIVES = (
    "Silent", "Crimson", "Forgotten", "Hidden", "Last", "Golden", "Broken", "Distant",
    "Endless", "Quiet", "Wild", "Secret", "Burning", "Frozen", "Little", "Hollow",
)  # fmt: skip
TITLE_NOUNS = (
    "River", "Garden", "Kingdom", "Harbour", "Mirror", "Orchard", "Lighthouse", "Empire",
    "Winter", "Library", "Mountain", "Voyage", "Letters", "Island", "Clockmaker", "Sea",
)  # fmt: skip
TITLE_TOPICS = (
    "Salt", "Bread", "Maps", "Time", "Coffee", "Numbers", "Bridges", "Bees", "Paper",
    "Glass", "Rivers", "Cities", "Silence", "Gardens",
)  # fmt: skip
UNICODE_TITLES = (
    "Café Zürich", "ノルウェイの森", "Cooking with 🍋 and 🧄", "Cien años de soledad",
    "Преступление и наказание", "Les Misérables — Édition intégrale",
)  # fmt: skip

COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "JP", "BR", "CA", "AU", "IN")
CITIES = {
    "US": ("New York", "Chicago", "Austin"),
    "GB": ("London", "Leeds", "Bristol"),
    "DE": ("Berlin", "München", "Köln"),
    "FR": ("Paris", "Lyon", "Besançon"),
    "ES": ("Madrid", "Sevilla", "A Coruña"),
    "IT": ("Roma", "Milano", "Torino"),
    "NL": ("Amsterdam", "Utrecht", "Den Haag"),
    "SE": ("Stockholm", "Göteborg", "Malmö"),
    "PL": ("Warszawa", "Kraków", "Łódź"),
    "JP": ("東京", "大阪", "Kyoto"),
    "BR": ("São Paulo", "Rio de Janeiro", "Brasília"),
    "CA": ("Toronto", "Montréal", "Vancouver"),
    "AU": ("Sydney", "Melbourne", "Perth"),
    "IN": ("Mumbai", "Bengaluru", "Delhi"),
}
STREETS = ("High Street", "Main St", "Rue de la Paix", "Hauptstraße", "Calle Mayor", "Via Roma")
SHIPPING_METHODS = ("standard", "express", "pickup")
ORDER_NOTES = (
    "Leave at the door.",
    "Gift wrap, please 🎁",
    "Call before delivery.",
    "",
    "Deliver after 6 pm.\nRing twice.",
)
BIO_SENTENCES = (
    "Grew up in a small coastal town and began writing at an early age.",
    "Studied literature and philosophy before working as a journalist.",
    "Their debut novel was translated into more than twenty languages.",
    "Has lived in five countries and writes in two of their languages.",
    "Is known for spare prose and unreliable narrators.",
    "Won several regional prizes before international recognition arrived.",
    "Taught creative writing for a decade.",
    "Spends summers in a cabin without electricity, writing by hand.",
)
MY_TABLE_NAMES = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "québec", "romeo",
    "sierra", "tango ☕",
)  # fmt: skip
PHOTOS = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00",
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00",
    b"\x00\x00\x00\x00",
    b"\x00\x01\x02\x03\xfd\xfe\xff",
)


# --- row generation ----------------------------------------------------------------------------


def _ascii(value: str) -> str:
    """Lower-case ASCII for e-mail local parts: strip accents, drop anything else."""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _money(rng: Random, low: int, high: int) -> Decimal:
    """A price in cents between low and high, as an exact two-place Decimal."""
    return Decimal(rng.randint(low, high)).scaleb(-2)


def _isbn13(index: int) -> str:
    """A valid ISBN-13 (with check digit) that is unique per index."""
    body = f"978{100_000_000 + index * 37:09d}"
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return f"{body}{check}"


def _my_table_rows() -> list[dict[str, Any]]:
    return [{"id": i, "name": name} for i, name in enumerate(MY_TABLE_NAMES, start=1)]


def _biography(rng: Random, index: int) -> str | None:
    """NULLs, empty strings and long multi-paragraph texts, so the UI has to tell them apart."""
    if index % 7 == 0:
        return None
    if index % 11 == 0:
        return ""
    paragraphs = rng.randint(1, 4)
    return "\n\n".join(
        " ".join(rng.choice(BIO_SENTENCES) for _ in range(rng.randint(2, 6)))
        for _ in range(paragraphs)
    )


def _author_rows(rng: Random, size: DemoSize) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, size.authors + 1):
        if i <= len(UNICODE_AUTHORS):
            name = UNICODE_AUTHORS[i - 1]
        else:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        born = None if i % 9 == 0 else BASE_DATE + dt.timedelta(days=rng.randint(0, 33_000))
        rows.append(
            {
                "id": i,
                "name": name,
                "born": born,
                "biography": _biography(rng, i),
                "photo": PHOTOS[(i // 40) % len(PHOTOS)] if i % 40 == 3 else None,
            }
        )
    return rows


def _title(rng: Random, index: int) -> str:
    if index <= len(UNICODE_TITLES):
        return UNICODE_TITLES[index - 1]
    pattern = rng.random()
    if pattern < 0.45:
        return f"The {rng.choice(TITLE_ADJECTIVES)} {rng.choice(TITLE_NOUNS)}"
    if pattern < 0.7:
        return f"A History of {rng.choice(TITLE_TOPICS)}"
    if pattern < 0.9:
        return f"{rng.choice(TITLE_NOUNS)} of {rng.choice(TITLE_TOPICS)}"
    return f"The {rng.choice(TITLE_NOUNS)}, Volume {rng.randint(2, 9)}"


def _book_rows(rng: Random, size: DemoSize) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, size.books + 1):
        rows.append(
            {
                "id": i,
                "title": _title(rng, i),
                "author_id": rng.randint(1, size.authors),
                "isbn": _isbn13(i),
                "price": _money(rng, 299, 8_999),
                "published_on": (
                    None
                    if i % 25 == 0
                    else dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 27_000))
                ),
                "in_print": rng.random() < 0.8,
                "genre": rng.choice(GENRES),
                "rating": None if i % 6 == 0 else round(rng.uniform(1.0, 5.0), 1),
            }
        )
    return rows


def _customer_rows(rng: Random, size: DemoSize) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, size.customers + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = BASE_TIME + dt.timedelta(
            seconds=i * 3_600 + rng.randint(0, 3_599), microseconds=rng.randint(0, 999_999)
        )
        vip_roll = rng.random()
        rows.append(
            {
                "id": i,
                "email": f"{_ascii(first)}.{_ascii(last)}{i}@example.com",
                "full_name": f"{first} {last}",
                "country": rng.choice(COUNTRIES),
                "created_at": created,
                "vip": None if vip_roll < 0.15 else vip_roll > 0.9,
            }
        )
    return rows


def _shipping(rng: Random, customer_id: int) -> dict[str, Any]:
    country = rng.choice(COUNTRIES)
    return {
        "method": rng.choice(SHIPPING_METHODS),
        "gift": rng.random() < 0.1,
        "address": {
            "line1": f"{rng.randint(1, 250)} {rng.choice(STREETS)}",
            "city": rng.choice(CITIES[country]),
            "postcode": f"{rng.randint(1_000, 99_999):05d}",
            "country": country,
        },
        "tracking": None
        if rng.random() < 0.3
        else f"TRK{customer_id:05d}{rng.randint(0, 9999):04d}",
    }


def _order_chunks(
    rng: Random, orders: int, book_prices: list[Decimal], size: DemoSize
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Orders with their line items, a batch at a time so 100,000 orders never sit in memory.

    An order with items gets the sum of its lines as total; the rest get a plausible amount.
    """
    items_until = orders // ITEMS_EVERY
    placed = ORDERS_START
    order_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for order_id in range(1, orders + 1):
        placed += dt.timedelta(seconds=rng.randint(30, 900), microseconds=rng.randint(0, 999_999))
        customer_id = rng.randint(1, size.customers)
        if order_id <= items_until:
            total = Decimal("0.00")
            for line_no in range(1, rng.randint(1, 3) + 1):
                book_id = rng.randint(1, size.books)
                quantity = rng.choice((1, 1, 1, 2, 2, 3, 5))
                unit_price = book_prices[book_id - 1]
                total += unit_price * quantity
                item_rows.append(
                    {
                        "order_id": order_id,
                        "line_no": line_no,
                        "book_id": book_id,
                        "quantity": quantity,
                        "unit_price": unit_price,
                    }
                )
        else:
            total = _money(rng, 500, 45_000)
        status = rng.choices(ORDER_STATUSES, weights=STATUS_WEIGHTS)[0]
        order_rows.append(
            {
                "id": order_id,
                "customer_id": customer_id,
                "placed_at": placed,
                "status": status,
                "total": total,
                "shipping": _shipping(rng, customer_id),
                "notes": rng.choice(ORDER_NOTES) if rng.random() < 0.05 else None,
            }
        )
        if len(order_rows) >= BATCH_SIZE:
            yield order_rows, item_rows
            order_rows, item_rows = [], []
    if order_rows:
        yield order_rows, item_rows


# --- installation ------------------------------------------------------------------------------


def _table(model: type[DemoBase]) -> Table:
    """A demo model's Table (the declarative base types `__table__` as any FROM clause)."""
    return DemoBase.metadata.tables[model.__tablename__]


async def _insert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany in batches: one round trip per batch instead of one per row."""
    for start in range(0, len(rows), BATCH_SIZE):
        await conn.execute(insert(table), rows[start : start + BATCH_SIZE])


async def _after_explicit_ids(conn: AsyncConnection, tables: Iterable[Table]) -> None:
    """Move PostgreSQL sequences past the explicit ids we inserted, or the next INSERT collides.

    The only place that looks at the dialect: SQLite and MySQL advance their counters by
    themselves.
    """
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                f"(SELECT MAX({column.name}) FROM {table.name}))"
            )
        )


async def install_demo(
    engine: AsyncEngine,
    *,
    orders: int = DEFAULT_ORDERS,
    size: DemoSize | None = None,
    progress: Callable[[str], None] | None = None,
) -> bool:
    """Create and fill the demo schema when the database has none of its tables; `size`
    (default: the demo's) sets the rows of authors, books and customers; `progress`, when
    given, is told what is being done, a line at a time (the first start takes seconds).

    Returns True if it installed, False if ``my_table`` already exists: the demo is only for a
    database the app created itself, so an existing one is never touched.
    """
    say = progress or (lambda _line: None)
    started = time.monotonic()
    async with engine.begin() as conn:
        if await conn.run_sync(lambda c: inspect(c).has_table("my_table")):
            return False
        say(f"building the demo database ({orders:,} orders; first start only)")
        await conn.run_sync(DemoBase.metadata.create_all)

        size = size or DemoSize()
        rng = Random(SEED)
        await _insert(conn, _table(MyTable), _my_table_rows())
        await _insert(conn, _table(Author), _author_rows(rng, size))
        book_rows = _book_rows(rng, size)
        await _insert(conn, _table(Book), book_rows)
        await _insert(conn, _table(Customer), _customer_rows(rng, size))
        say(f"demo: {size.authors:,} authors, {size.books:,} books, {size.customers:,} customers")
        book_prices = [row["price"] for row in book_rows]
        done, step = 0, max(orders // 4, 1)  # a line per quarter of the orders
        for order_rows, item_rows in _order_chunks(rng, orders, book_prices, size):
            await _insert(conn, _table(Order), order_rows)
            await _insert(conn, _table(OrderItem), item_rows)
            if (done + len(order_rows)) // step > done // step:
                say(f"demo: {done + len(order_rows):,} of {orders:,} orders")
            done += len(order_rows)

        await _after_explicit_ids(conn, DemoBase.metadata.sorted_tables)
        await conn.execute(text(BOOK_SALES_VIEW))
    say(f"demo database ready in {time.monotonic() - started:.1f} s")
    return True


async def demo_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after the database's, before the catalog's): with `database.demo`, fill
    the demo schema into a database that has no tables at all (the app's own tables aside)."""
    settings = app[SETTINGS]
    if settings.database.demo:
        engine = app[ENGINE]
        try:
            if len(await reflect_catalog(engine, settings.hidden_table_prefix)) == 0:
                await install_demo(engine, progress=app.get(STARTUP_PROGRESS))
        except Exception as exc:
            raise unusable_database(settings.database, exc) from exc
    yield


async def prepare_demo(settings: Settings) -> None:
    """Fill the demo once before several worker processes start, so that they do not race
    to create the same tables (each then finds them made)."""
    if not settings.database.demo:
        return
    engine = create_engine(settings.database)
    try:
        if len(await reflect_catalog(engine, settings.hidden_table_prefix)) == 0:
            await install_demo(engine)
    except Exception as exc:
        raise unusable_database(settings.database, exc) from exc
    finally:
        await engine.dispose()
