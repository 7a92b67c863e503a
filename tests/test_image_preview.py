"""Pictures in binary columns, on every backend: the record page previews PNG, JPEG, GIF and
WebP values (known by their magic bytes alone) through `/t/<table>/r/<key>/image/<column>`,
served as the sniffed type with nosniff and a sandboxing policy; anything else (SVG, text,
a file named like a picture, a value past the size cap) is a 404 with no preview, and the
role rules and sign-in apply as on the record page."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, insert
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.settings import table_options
from webapp.values.images import IMAGE_PREVIEW_BYTES, image_type, preview_type

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(40)
GIF = b"GIF89a\x01\x00\x01\x00" + bytes(20)
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 " + bytes(20)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
# Each stored value by key: the expected Content-Type, None for no picture.
PICTURES: dict[int, tuple[bytes, str | None]] = {
    1: (PNG, "image/png"),
    2: (JPEG, "image/jpeg"),
    3: (GIF, "image/gif"),
    4: (WEBP, "image/webp"),
    5: (SVG, None),
    6: (b"just text, named photo.png", None),
    7: (PNG + bytes(IMAGE_PREVIEW_BYTES), None),  # a PNG past the cap: download only
    8: (b"", None),
}


def test_magic_bytes_alone_decide() -> None:
    assert [image_type(data) for data, _ in PICTURES.values()][:6] == [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        None,
        None,
    ]
    assert image_type(b"RIFF\x00\x00\x00\x00WAVE") is None  # RIFF, but not WebP
    assert image_type(b"GIF88a") is None
    assert preview_type(memoryview(PNG)) == "image/png"
    assert preview_type("\x89PNG\r\n\x1a\n") is None  # text, not bytes
    assert preview_type(PNG + bytes(IMAGE_PREVIEW_BYTES)) is None


@pytest.fixture
async def photos(engine: AsyncEngine) -> None:
    metadata = MetaData()
    table = Table(
        "photos",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("title", String(40)),
        Column("picture", LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")),
        Column("secret", LargeBinary, nullable=True),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(table),
            [
                {"id": key, "title": f"photo {key}.png", "picture": data, "secret": PNG}
                for key, (data, _) in PICTURES.items()
            ],
        )


HIDDEN = {"photos": {"roles": {"viewer": {"hidden_columns": ["secret"]}}}}


async def test_each_format_is_served_as_its_sniffed_type_with_safe_headers(
    photos: None, make_client
) -> None:
    client = await make_client(role="viewer", tables=table_options(HIDDEN))
    for key, (data, expected) in PICTURES.items():
        response = await client.get(f"/t/photos/r/{key}/image/picture")
        page = await (await client.get(f"/t/photos/r/{key}")).text()
        if expected is None:
            assert response.status == 404, key
            assert "/image/" not in page, key
            continue
        assert response.status == 200, key
        assert response.headers["Content-Type"] == expected
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert await response.read() == data
        name = expected.removeprefix("image/").upper()
        assert (
            f'<img class="preview" src="/t/photos/r/{key}/image/picture" '
            f'alt="picture: {name} image" loading="lazy">'
        ) in page
    # Past the cap: no preview, but the value is still there to download.
    big = await (await client.get("/t/photos/r/7")).text()
    assert "/t/photos/r/7/raw/picture" in big


async def test_a_hidden_column_or_missing_row_is_a_404_and_anonymous_is_sent_to_sign_in(
    photos: None, make_client
) -> None:
    viewer = await make_client(role="viewer", tables=table_options(HIDDEN))
    assert (await viewer.get("/t/photos/r/1/image/secret")).status == 404
    assert "/image/secret" not in await (await viewer.get("/t/photos/r/1")).text()
    assert (await viewer.get("/t/photos/r/1/image/nothing")).status == 404
    assert (await viewer.get("/t/photos/r/99/image/picture")).status == 404
    assert (await viewer.get("/t/photos/r/x/image/picture")).status == 404
    assert (await viewer.get("/t/photos/r/1/image/title")).status == 404
    admin = await make_client(role="admin", tables=table_options(HIDDEN))
    assert (await admin.get("/t/photos/r/1/image/secret")).status == 200
    anonymous = await make_client(role=None, tables=table_options(HIDDEN))
    for path in ("/t/photos/r/1", "/t/photos/r/1/image/picture"):
        response = await anonymous.get(path, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"].startswith("/login?next=")
