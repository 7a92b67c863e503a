"""First run: with no user yet, a one-time sign-in link makes the first admin, who then
chooses a password; a non-loopback address is refused until a user exists."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import FAST_HASHING
from webapp.accounts.lifecycle import NoUsersError, first_run, is_loopback
from webapp.settings import settings_for_url


async def test_sign_in_link_works_once_and_asks_the_new_admin_for_a_password(
    make_client, db_url: str, engine: AsyncEngine
) -> None:
    token = await first_run(settings_for_url(db_url, auth=FAST_HASHING))
    assert token and len(token) >= 32
    async with engine.connect() as conn:
        stored = (await conn.scalars(text("SELECT token_hash FROM webapp_sign_in_tokens"))).all()
    assert len(stored) == 1 and token not in stored[0]
    client = await make_client(role=None)
    response = await client.get(f"/login/token/{token}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/account/password"
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/account/password"
    body = await (await client.get("/account/password")).text()
    assert "Choose a password" in body and 'name="current"' not in body
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
    response = await client.post(
        "/account/password",
        data={"csrf_token": form_token, "password": "first admin pw", "repeat": "first admin pw"},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await client.get("/")).text()
    assert re.search(r'class="user">admin <span class="role">admin</span>', page)
    client.session.cookie_jar.clear()
    response = await client.get(f"/login/token/{token}", allow_redirects=False)
    assert response.status == 403
    assert "already used or expired" in await response.text()
    async with engine.connect() as conn:
        assert (await conn.scalar(text("SELECT COUNT(*) FROM webapp_users"))) == 1


async def test_expired_sign_in_link_is_refused_and_makes_no_user(
    make_client, db_url: str, engine: AsyncEngine
) -> None:
    token = await first_run(settings_for_url(db_url, auth=FAST_HASHING))
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE webapp_sign_in_tokens SET expires_at = :past"),
            {"past": dt.datetime(2000, 1, 1)},
        )
    client = await make_client(role=None)
    response = await client.get(f"/login/token/{token}", allow_redirects=False)
    assert response.status == 403
    async with engine.connect() as conn:
        assert (await conn.scalar(text("SELECT COUNT(*) FROM webapp_users"))) == 0


async def test_a_new_link_when_the_linked_admin_never_chose_a_password(
    make_client, db_url: str, engine: AsyncEngine
) -> None:
    settings = settings_for_url(db_url, auth=FAST_HASHING)
    token = await first_run(settings)
    client = await make_client(role=None)
    assert (await client.get(f"/login/token/{token}", allow_redirects=False)).status == 303
    second = await first_run(settings)
    assert second and second != token
    client.session.cookie_jar.clear()
    assert (await client.get(f"/login/token/{second}", allow_redirects=False)).status == 303
    async with engine.connect() as conn:
        names = (await conn.scalars(text("SELECT username FROM webapp_users ORDER BY id"))).all()
    assert names == ["admin", "admin2"]


async def test_no_link_once_a_user_exists(make_client, db_url: str) -> None:
    await make_client()  # signs in an admin, so a user exists
    assert await first_run(settings_for_url(db_url, auth=FAST_HASHING)) is None


async def test_non_loopback_address_with_no_users_is_refused(db_url: str) -> None:
    settings = settings_for_url(db_url, auth=FAST_HASHING, host="0.0.0.0")
    with pytest.raises(NoUsersError) as caught:
        await first_run(settings)
    assert "python -m webapp user add NAME --role admin" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
