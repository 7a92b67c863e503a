"""Request bodies and headers the app must refuse with a page, never a 500, never a write:
bytes that are not UTF-8, broken multipart bodies, bodies over a route's limit, a malformed
Origin; and the security headers on every kind of response."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import (
    assert_refusal_page,
    database_checksum,
    form_token,
    install_small_demo,
    sign_in_as,
)
from webapp.web.headers import SECURITY_HEADERS
from webapp.web.request_body import RECORD_FORM_LIMIT, SMALL_FORM_LIMIT

FORM = "application/x-www-form-urlencoded"
UNREADABLE = "The form could not be read"


async def post_raw(client, path: str, body: bytes, content_type: str, **headers):
    response = await client.post(
        path,
        data=body,
        headers={"Content-Type": content_type, **headers},
        allow_redirects=False,
    )
    return response.status, await response.text()


async def test_login_body_that_is_not_utf8_gets_400_page(engine: AsyncEngine, make_client) -> None:
    await install_small_demo(engine)
    client = await make_client(role=None)
    token = await form_token(client)
    before = await database_checksum(engine)
    body = f"csrf_token={token}&username=\xff&password=x".encode("latin-1")
    assert_refusal_page(*await post_raw(client, "/login", body, FORM), 400, UNREADABLE)
    body = f"csrf_token={token}&username=%FF%FE&password=x".encode()
    assert_refusal_page(*await post_raw(client, "/login", body, FORM), 400, UNREADABLE)
    assert await database_checksum(engine) == before


async def test_edit_bodies_that_cannot_be_read_get_400_and_write_nothing(
    engine: AsyncEngine, make_client
) -> None:
    await install_small_demo(engine)
    client = await make_client()
    token = await form_token(client, "/t/my_table/r/1/edit")
    before = await database_checksum(engine)
    bad_bodies = [
        (f"csrf_token={token}&c1=\xff\xfe".encode("latin-1"), FORM),
        (f"csrf_token={token}&c1=caf%E9".encode(), FORM),
        (f"csrf_token={token}&c1=x".encode(), FORM + "; charset=no-such-charset"),
        (b"--xyz\r\nContent-Disposition: form-data\r\n\r\nv\r\n--xyz--\r\n", "multipart/form-data"),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="c1"\r\n\r\n\xff\xfe\r\n--xyz--\r\n',
            "multipart/form-data; boundary=xyz",
        ),
        (b"--xyz\r\nno headers end here", "multipart/form-data; boundary=xyz"),
    ]
    for body, content_type in bad_bodies:
        for path in ("/t/my_table/r/1/edit", "/t/my_table/new", "/t/my_table/r/1/delete"):
            status, page = await post_raw(client, path, body, content_type, **{"X-Fuzz": "1"})
            assert status in (400, 403), (path, body, status, page[:300])
            assert "<html" in page.lower() and "Traceback" not in page
        status, page = await post_raw(client, "/admin/users", body, content_type)
        assert status in (400, 403), (body, status)
    assert await database_checksum(engine) == before


async def test_malformed_origin_is_refused_with_403(engine: AsyncEngine, make_client) -> None:
    await install_small_demo(engine)
    client = await make_client(role=None)
    token = await form_token(client)
    before = await database_checksum(engine)
    for origin in ("https://[", "http://[::1", "null", "%FF"):
        status, page = await post_raw(
            client,
            "/login",
            f"csrf_token={token}&username=a&password=b".encode(),
            FORM,
            Origin=origin,
        )
        assert_refusal_page(status, page, 403, "came from another site")
    assert await database_checksum(engine) == before


async def test_big_login_body_is_refused_before_it_is_read(
    engine: AsyncEngine, make_client
) -> None:
    await install_small_demo(engine)
    client = await make_client(role=None)
    await form_token(client)  # a session with a token: the body is the only reason to refuse
    before = await database_checksum(engine)
    status, page = await post_raw(client, "/login", b"u=" + b"x" * SMALL_FORM_LIMIT, FORM)
    assert_refusal_page(status, page, 413, "Request too large")

    # A declared length far over the limit is answered without waiting for the body.
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM.encode() + b"\r\n"
        b"Content-Length: 16000000\r\n\r\nusername=x"
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert head.split()[1] == b"413"

    async def chunked():
        for _ in range(SMALL_FORM_LIMIT // 1024 + 2):
            yield b"x" * 1024

    response = await client.post(
        "/login", data=chunked(), headers={"Content-Type": FORM}, allow_redirects=False
    )
    assert response.status == 413
    assert await database_checksum(engine) == before


async def test_record_form_limit_depends_on_a_file_field(engine: AsyncEngine, make_client) -> None:
    """`my_table` has only a VARCHAR(100): a form of a few hundred kilobytes is refused;
    `orders` has unbounded texts: that size reaches the form's own checks, 2 MB does not;
    `authors` has a binary column (a file field): 2 MB reaches the form's checks too."""
    await install_small_demo(engine)
    client = await make_client()
    token = await form_token(client, "/t/my_table/r/1/edit")
    before = await database_checksum(engine)
    big = b"x" * (2 * RECORD_FORM_LIMIT)
    medium = b"x" * (RECORD_FORM_LIMIT // 4)
    status, page = await post_raw(
        client, "/t/my_table/r/1/edit", f"csrf_token={token}&c1=".encode() + medium, FORM
    )
    assert_refusal_page(status, page, 413, "Request too large")
    status, page = await post_raw(
        client, "/t/orders/r/1/edit", f"csrf_token={token}&c6=".encode() + medium, FORM
    )
    assert status in (400, 409) and "Request too large" not in page, page[:500]
    status, page = await post_raw(
        client, "/t/orders/r/1/edit", f"csrf_token={token}&c6=".encode() + big, FORM
    )
    assert_refusal_page(status, page, 413, "Request too large")
    status, page = await post_raw(
        client, "/t/authors/r/1/edit", f"csrf_token={token}&c1=".encode() + big, FORM
    )
    assert status == 400, page[:500]
    assert "Request too large" not in page
    assert await database_checksum(engine) == before


async def test_every_response_kind_carries_the_security_headers(
    engine: AsyncEngine, make_client
) -> None:
    await install_small_demo(engine)
    client = await make_client()
    anonymous = await make_client(role=None)
    responses = [
        await client.get("/"),
        await client.get("/t/orders.csv"),
        await client.get("/t/orders.json"),
        await client.get("/t/nothing-here"),
        await client.get("/static/app.css"),
        await anonymous.get("/t/orders", allow_redirects=False),
        await client.post("/logout", allow_redirects=False),
        await anonymous.post("/login", data=b"\xff", allow_redirects=False),
        await client.get("/static/no-such-file.css"),
        await sign_in_as(anonymous, "nobody"),
        await sign_in_as(anonymous, "test-admin"),
    ]
    statuses = [response.status for response in responses]
    assert statuses == [200, 200, 200, 404, 200, 302, 403, 403, 404, 401, 303], statuses
    for response in responses:
        await response.read()
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.url, name)
