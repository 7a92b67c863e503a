"""Values a column could never hold, typed into searches, filters, URLs and the sign-in form:
NUL (PostgreSQL text cannot store it), integers beyond a key column's type, characters
outside a MySQL column's character set. Each finds nothing (or is a 404, a wrong password),
never a 500, and writes nothing."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import assert_refusal_page, database_checksum, form_token, install_small_demo
from webapp.web.urls import record_url

NO_RECORD = "No record has this key."
WRONG = "Wrong user name or password."


async def install_codes(engine: AsyncEngine, backend: str) -> None:
    """`codes`: a text primary key, and a table whose text columns are latin1 on MySQL."""
    latin1 = " DEFAULT CHARSET=latin1" if backend == "mysql" else ""
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE codes (code VARCHAR(20) PRIMARY KEY, label VARCHAR(50))" + latin1)
        )
        await conn.execute(text("INSERT INTO codes VALUES ('café', 'crème brûlée'), ('b', 'x')"))


async def test_nul_in_search_filters_keys_and_names_finds_nothing(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    await install_small_demo(engine)
    await install_codes(engine, backend)
    client = await make_client()
    before = await database_checksum(engine)
    for query in (
        "q=a%00b",
        "full_name__exact=a%00b",
        "full_name__contains=%00",
        "full_name__startswith=x%00",
        "full_name__in=a,b%00",
        "email__not=a%00b",
    ):
        response = await client.get(f"/t/customers?{query}")
        body = await response.text()
        assert response.status == 200, (query, body[:300])
        if "not" not in query:
            assert "No rows" in body, (query, body[body.find("summary") :][:300])
    order = await client.get("/t/customers?full_name__lt=a%00b")
    assert order.status == (400 if backend == "postgresql" else 200)
    for path in ("/t/codes/r/a%00b", "/t/codes/r/a%00b/edit", "/t/codes/r/%00"):
        response = await client.get(path)
        assert_refusal_page(response.status, await response.text(), 404, NO_RECORD)
    assert (await client.get(record_url("codes", ["café"]))).status == 200
    activity = await client.get("/activity?user=a%00b&table=t%00")
    assert activity.status == 200
    role = await client.post(
        "/admin/users/a%00b/role",
        data={"csrf_token": await form_token(client, "/admin/users"), "role": "viewer"},
    )
    assert role.status == 404
    anonymous = await make_client(role=None)
    token = await form_token(anonymous)
    for name in ("a\x00b", "\x00", "admin\x00"):
        response = await anonymous.post(
            "/login", data={"csrf_token": token, "username": name, "password": "x"}
        )
        assert_refusal_page(response.status, await response.text(), 401, WRONG)
    assert await database_checksum(engine) == before


async def test_integer_key_beyond_its_type_is_404(engine: AsyncEngine, make_client) -> None:
    await install_small_demo(engine)
    client = await make_client()
    token = await form_token(client, "/t/my_table/r/1/edit")
    before = await database_checksum(engine)
    for key in ("2147483648", "-2147483649", "9223372036854775808", "9" * 40, "-" + "9" * 40):
        for suffix in ("", "/edit", "/delete", "/raw/name"):
            response = await client.get(f"/t/my_table/r/{key}{suffix}")
            assert_refusal_page(response.status, await response.text(), 404, "this key")
        response = await client.post(
            f"/t/my_table/r/{key}/delete", data={"csrf_token": token, "row_version": "x"}
        )
        # A key its column could hold may name a row deleted meanwhile: a conflict.
        assert response.status in (404, 409), key
        response = await client.get(f"/t/orders?customer_id__exact={key}")
        assert response.status in (200, 400), key
    assert (await client.get("/t/my_table/r/1")).status == 200
    assert await database_checksum(engine) == before


async def test_text_outside_a_columns_charset_finds_nothing(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    """On MySQL `codes` is latin1: emoji, Greek and Cyrillic cannot occur in it."""
    await install_small_demo(engine)
    await install_codes(engine, backend)
    client = await make_client()
    before = await database_checksum(engine)
    for value in ("🍋", "Ωμέγα", "ő", "€🍋", "кот"):
        for param in ("q", "label__exact", "label__contains", "code__in", "code__startswith"):
            response = await client.get("/t/codes", params={param: value})
            body = await response.text()
            assert response.status == 200, (param, value, body[:300])
            assert "No rows" in body, (param, value)
        response = await client.get("/t/codes", params={"label__not": value})
        assert "crème brûlée" in await response.text()
        response = await client.get("/t/codes", params={"label__lt": value})
        assert response.status in (200, 400)
    for param, value in (("q", "crème"), ("label__contains", "brû"), ("code__exact", "café")):
        response = await client.get("/t/codes", params={param: value})
        assert "crème brûlée" in await response.text(), (param, value)
    assert await database_checksum(engine) == before


async def test_text_a_column_cannot_store_is_a_field_error(
    engine: AsyncEngine, make_client, backend: str
) -> None:
    """NUL on PostgreSQL, an emoji in a latin1 column on MySQL: the form says so, and
    nothing is written; elsewhere the same text is stored as typed."""
    await install_small_demo(engine)
    await install_codes(engine, backend)
    client = await make_client()
    token = await form_token(client, "/t/codes/new")
    before = await database_checksum(engine)
    value = {"postgresql": "a\x00b", "mysql": "lemon 🍋"}.get(backend, "a\x00b 🍋")
    response = await client.post(
        "/t/codes/new", data={"csrf_token": token, "c0": "new", "c1": value}, allow_redirects=False
    )
    if backend == "sqlite":
        assert response.status == 303
        async with engine.connect() as conn:
            stored = await conn.execute(text("SELECT label FROM codes WHERE code = 'new'"))
            assert stored.scalar_one() == value
        return
    assert_refusal_page(
        response.status, await response.text(), 400, "cannot store some of these characters"
    )
    assert await database_checksum(engine) == before
