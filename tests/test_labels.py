"""Row labels chosen as a person would, on schemas shaped like the Chinook and Sakila
sample databases: people by first and last name, never by job title, e-mail or address;
a column the statistics show repeating a lot never; `label_column` still overrides."""

from __future__ import annotations

import datetime
import re

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    insert,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.settings import TableOptions
from webapp.web.appkeys import CATALOG
from webapp.web.urls import record_url, table_url


def chinook_like(metadata: MetaData) -> None:
    Table(
        "Employee",
        metadata,
        Column("EmployeeId", Integer, primary_key=True, autoincrement=False),
        Column("LastName", String(20), nullable=False),
        Column("FirstName", String(20), nullable=False),
        Column("Title", String(30)),
        Column("ReportsTo", Integer, ForeignKey("Employee.EmployeeId")),
        Column("Address", String(70)),
        Column("City", String(40)),
        Column("Email", String(60)),
    )
    Table(
        "Customer",
        metadata,
        Column("CustomerId", Integer, primary_key=True, autoincrement=False),
        Column("FirstName", String(40), nullable=False),
        Column("LastName", String(20), nullable=False),
        Column("Company", String(80)),
        Column("Address", String(70)),
        Column("City", String(40)),
        Column("Country", String(40)),
        Column("Email", String(60), nullable=False),
        Column("SupportRepId", Integer, ForeignKey("Employee.EmployeeId")),
    )
    Table(
        "Invoice",
        metadata,
        Column("InvoiceId", Integer, primary_key=True, autoincrement=False),
        Column("CustomerId", Integer, ForeignKey("Customer.CustomerId"), nullable=False),
        Column("InvoiceDate", DateTime, nullable=False),
        Column("BillingAddress", String(70)),
        Column("BillingCity", String(40)),
        Column("BillingCountry", String(40)),
        Column("Total", Numeric(10, 2), nullable=False),
    )
    Table(
        "InvoiceLine",
        metadata,
        Column("InvoiceLineId", Integer, primary_key=True, autoincrement=False),
        Column("InvoiceId", Integer, ForeignKey("Invoice.InvoiceId"), nullable=False),
        Column("Quantity", Integer, nullable=False),
    )
    Table(
        "Artist",
        metadata,
        Column("ArtistId", Integer, primary_key=True, autoincrement=False),
        Column("Name", String(120)),
    )
    Table(
        "Album",
        metadata,
        Column("AlbumId", Integer, primary_key=True, autoincrement=False),
        Column("Title", String(160), nullable=False),
        Column("ArtistId", Integer, ForeignKey("Artist.ArtistId"), nullable=False),
    )


def sakila_like(metadata: MetaData) -> None:
    Table(
        "actor",
        metadata,
        Column("actor_id", Integer, primary_key=True, autoincrement=False),
        Column("first_name", String(45), nullable=False),
        Column("last_name", String(45), nullable=False),
        Column("last_update", DateTime),
    )
    Table(
        "country",
        metadata,
        Column("country_id", Integer, primary_key=True, autoincrement=False),
        Column("country", String(50), nullable=False),
    )
    Table(
        "city",
        metadata,
        Column("city_id", Integer, primary_key=True, autoincrement=False),
        Column("city", String(50), nullable=False),
        Column("country_id", Integer, ForeignKey("country.country_id"), nullable=False),
    )
    Table(
        "address",
        metadata,
        Column("address_id", Integer, primary_key=True, autoincrement=False),
        Column("address", String(50), nullable=False),
        Column("district", String(20), nullable=False),
        Column("city_id", Integer, ForeignKey("city.city_id"), nullable=False),
        Column("postal_code", String(10)),
        Column("phone", String(20), nullable=False),
    )
    Table(
        "film",
        metadata,
        Column("film_id", Integer, primary_key=True, autoincrement=False),
        Column("title", String(128), nullable=False),
        Column("description", Text),
        Column("rating", String(5)),
    )
    Table(
        "film_actor",
        metadata,
        Column("actor_id", Integer, ForeignKey("actor.actor_id"), primary_key=True),
        Column("film_id", Integer, ForeignKey("film.film_id"), primary_key=True),
    )


ROWS = {
    "Employee": [
        {
            "EmployeeId": 1,
            "LastName": "Adams",
            "FirstName": "Andrew",
            "Title": "General Manager",
            "ReportsTo": None,
            "Address": "11120 Jasper Ave NW",
            "City": "Edmonton",
            "Email": "andrew@chinookcorp.com",
        },
        {
            "EmployeeId": 3,
            "LastName": "Peacock",
            "FirstName": "Jane",
            "Title": "Sales Support Agent",
            "ReportsTo": 1,
            "Address": "1111 6 Ave SW",
            "City": "Calgary",
            "Email": "jane@chinookcorp.com",
        },
    ],
    "Customer": [
        {
            "CustomerId": 1,
            "FirstName": "Luís",
            "LastName": "Gonçalves",
            "Company": "Embraer - Empresa Brasileira de Aeronáutica S.A.",
            "Address": "Av. Brigadeiro Faria Lima, 2170",
            "City": "São José dos Campos",
            "Country": "Brazil",
            "Email": "luisg@embraer.com.br",
            "SupportRepId": 3,
        }
    ],
    "Invoice": [
        {
            "InvoiceId": 98,
            "CustomerId": 1,
            "InvoiceDate": datetime.datetime(2010, 3, 11),
            "BillingAddress": "Av. Brigadeiro Faria Lima, 2170",
            "BillingCity": "São José dos Campos",
            "BillingCountry": "Brazil",
            "Total": 3.98,
        }
    ],
    "InvoiceLine": [{"InvoiceLineId": 530, "InvoiceId": 98, "Quantity": 1}],
    "Artist": [{"ArtistId": 1, "Name": "AC/DC"}],
    "Album": [{"AlbumId": 1, "Title": "For Those About To Rock We Salute You", "ArtistId": 1}],
    "actor": [{"actor_id": 1, "first_name": "PENELOPE", "last_name": "GUINESS"}],
    "country": [{"country_id": 20, "country": "Canada"}],
    "city": [{"city_id": 300, "city": "Lethbridge", "country_id": 20}],
    "address": [
        {
            "address_id": 1,
            "address": "47 MySakila Drive",
            "district": "Alberta",
            "city_id": 300,
            "postal_code": "",
            "phone": "",
        }
    ],
    "film": [
        {"film_id": 1, "title": "ACADEMY DINOSAUR", "description": "An Epic Drama", "rating": "PG"}
    ],
    "film_actor": [{"actor_id": 1, "film_id": 1}],
}


@pytest.fixture(scope="module")
async def samples(module_engine: AsyncEngine) -> MetaData:
    """Chinook- and Sakila-like tables on the module's database, shared by the tests that
    only read them."""
    metadata = MetaData()
    chinook_like(metadata)
    sakila_like(metadata)
    async with module_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for table in metadata.sorted_tables:
            await conn.execute(insert(table), ROWS[table.name])
    return metadata


def label_names(client, table: str) -> list[str]:
    info = client.server.app[CATALOG].tables[table]
    return [column.name for column in info.label_columns]


async def test_people_are_labelled_by_first_and_last_name(samples, module_client) -> None:
    client = await module_client()
    assert label_names(client, "Employee") == ["FirstName", "LastName"]
    assert label_names(client, "Customer") == ["FirstName", "LastName"]
    assert label_names(client, "actor") == ["first_name", "last_name"]
    customers = await (await client.get(table_url("Customer"))).text()
    assert f'<a href="{record_url("Employee", ["3"])}">Jane Peacock</a>' in customers
    assert "Sales Support Agent" not in customers
    invoices = await (await client.get(table_url("Invoice"))).text()
    assert f'<a href="{record_url("Customer", ["1"])}">Luís Gonçalves</a>' in invoices
    cast = await (await client.get(table_url("film_actor"))).text()
    assert f'<a href="{record_url("actor", ["1"])}">PENELOPE GUINESS</a>' in cast
    assert f'<a href="{record_url("film", ["1"])}">ACADEMY DINOSAUR</a>' in cast
    employee = await (await client.get(record_url("Employee", ["3"]))).text()
    assert re.search(r'<span class="label">Jane Peacock</span></h1>', employee)
    assert "Andrew Adams" in employee  # ReportsTo


async def test_rows_without_a_name_are_labelled_by_their_key(samples, module_client) -> None:
    """An invoice has only an address, a city and a country as text: none names it."""
    client = await module_client()
    assert label_names(client, "Invoice") == []
    lines = await (await client.get(table_url("InvoiceLine"))).text()
    assert f'href="{record_url("Invoice", ["98"])}"' in lines
    assert "Brigadeiro" not in lines and "Brazil" not in lines
    invoice = await (await client.get(record_url("Invoice", ["98"]))).text()
    assert '<span class="label">' not in invoice


async def test_things_are_labelled_by_their_own_name_or_title(samples, module_client) -> None:
    client = await module_client()
    assert label_names(client, "Artist") == ["Name"]
    assert label_names(client, "Album") == ["Title"]
    assert label_names(client, "film") == ["title"]
    assert label_names(client, "city") == ["city"]
    assert label_names(client, "country") == ["country"]
    assert label_names(client, "address") == ["address"]
    addresses = await (await client.get(table_url("address"))).text()
    assert f'<a href="{record_url("city", ["300"])}">Lethbridge</a>' in addresses
    cities = await (await client.get(table_url("city"))).text()
    assert f'<a href="{record_url("country", ["20"])}">Canada</a>' in cities


async def test_picker_and_select_show_the_whole_name(samples, module_client) -> None:
    client = await module_client()
    found = await (await client.get(table_url("actor") + "/lookup?q=guin")).json()
    assert found == [{"key": "1", "label": "1 — PENELOPE GUINESS"}]
    found = await (await client.get(table_url("actor") + "/lookup?q=penelope g")).json()
    assert found == [{"key": "1", "label": "1 — PENELOPE GUINESS"}]
    form = await (await client.get(record_url("Customer", ["1"]) + "/edit")).text()
    assert "3 — Jane Peacock" in form


async def test_configured_label_column_overrides_the_choice(samples, module_client) -> None:
    client = await module_client(tables={"Employee": TableOptions(label_column="Title")})
    assert label_names(client, "Employee") == ["Title"]
    customers = await (await client.get(table_url("Customer"))).text()
    assert f'<a href="{record_url("Employee", ["3"])}">Sales Support Agent</a>' in customers


ANALYZE = {"sqlite": "ANALYZE", "mysql": "ANALYZE TABLE tickets", "postgresql": "ANALYZE tickets"}


async def test_a_column_whose_values_repeat_a_lot_never_labels(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    """`queue` would be the first plain text column; the statistics (here those of its
    index, which every backend keeps) show two values over 40 rows, so `summary` names
    the tickets instead."""
    metadata = MetaData()
    tickets = Table(
        "tickets",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("queue", String(20), nullable=False),
        Column("summary", String(100), nullable=False),
        Index("tickets_queue", "queue"),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(tickets),
            [
                {"id": n, "queue": ("support", "sales")[n % 2], "summary": f"problem {n}"}
                for n in range(1, 41)
            ],
        )
    async with engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
            text(ANALYZE[backend])
        )
    client = await make_client()
    assert label_names(client, "tickets") == ["summary"]
