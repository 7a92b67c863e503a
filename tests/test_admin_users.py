"""The users page: admins add users and change roles, status and passwords in the browser;
every bad input is a form error with the users left as they were."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import TEST_PASSWORD, sign_in_as
from webapp.web.appkeys import ACCOUNTS


async def users(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT username, role, disabled, password_hash FROM webapp_users ORDER BY username"
            )
        )
        return [tuple(row) for row in rows]


async def page_token(client) -> str:
    body = await (await client.get("/admin/users")).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)


async def test_admin_adds_a_user_who_can_then_sign_in(make_client, engine: AsyncEngine) -> None:
    client = await make_client()
    token = await page_token(client)
    response = await client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "vera", "role": "editor", "password": "vera pass 1"},
        allow_redirects=False,
    )
    assert response.status == 303
    body = await (await client.get("/admin/users")).text()
    assert "<td>vera" in body
    assert [row[:3] for row in await users(engine)] == [
        ("test-admin", "admin", False),
        ("vera", "editor", False),
    ]
    client.session.cookie_jar.clear()
    assert (await sign_in_as(client, "vera", "vera pass 1")).status == 303


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "test-admin", "role": "viewer", "password": "long enough"}, "already exists"),
        (
            {"username": "bob", "role": "owner", "password": "long enough"},
            "unknown role &#39;owner&#39;",
        ),
        ({"username": "bob", "role": "viewer", "password": ""}, "The password is empty."),
        ({"username": "bob", "role": "viewer", "password": "short"}, "at least 8 characters"),
        ({"username": "bob smith", "role": "viewer", "password": "long enough"}, "no spaces"),
    ],
)
async def test_bad_new_user_is_a_form_error_and_changes_nothing(
    make_client, engine: AsyncEngine, form: dict[str, str], message: str
) -> None:
    client = await make_client()
    before = await users(engine)
    response = await client.post(
        "/admin/users", data=dict(form, csrf_token=await page_token(client))
    )
    assert response.status == 400
    body = await response.text()
    assert 'class="form-error"' in body and message in body
    assert await users(engine) == before


async def test_forged_form_is_403_and_changes_nothing(make_client, engine: AsyncEngine) -> None:
    client = await make_client()
    before = await users(engine)
    response = await client.post(
        "/admin/users",
        data={
            "csrf_token": "forged",
            "username": "eve",
            "role": "admin",
            "password": "long enough",
        },
    )
    assert response.status == 403
    assert await users(engine) == before


async def test_role_change_takes_effect_on_the_users_next_request(make_client) -> None:
    client = await make_client(role="viewer")
    assert (await client.get("/admin/users")).status == 403
    await client.server.app[ACCOUNTS].set_role("test-viewer", "admin")
    response = await client.get("/admin/users")
    assert response.status == 200
    assert 'href="/admin/users"' in await response.text()


async def test_disable_enable_and_set_password_from_the_page(
    make_client, engine: AsyncEngine
) -> None:
    client = await make_client()
    await client.server.app[ACCOUNTS].add_user("dan", "viewer", TEST_PASSWORD)
    token = await page_token(client)
    for action, form in (
        ("disable", {}),
        ("enable", {}),
        ("password", {"password": "fresh pass 9"}),
    ):
        response = await client.post(
            f"/admin/users/dan/{action}", data=dict(form, csrf_token=token), allow_redirects=False
        )
        assert response.status == 303, action
        if action == "disable":
            assert bool((await users(engine))[0][2])
    client.session.cookie_jar.clear()
    assert (await sign_in_as(client, "dan")).status == 401
    assert (await sign_in_as(client, "dan", "fresh pass 9")).status == 303


async def test_last_enabled_admin_cannot_be_disabled_or_demoted(
    make_client, engine: AsyncEngine
) -> None:
    client = await make_client()
    token = await page_token(client)
    before = await users(engine)
    for action, form in (("disable", {}), ("role", {"role": "viewer"})):
        response = await client.post(
            f"/admin/users/test-admin/{action}", data=dict(form, csrf_token=token)
        )
        assert response.status == 400
        assert "last enabled admin" in await response.text()
    assert await users(engine) == before


async def test_unknown_user_on_the_page_is_a_form_error(make_client, engine: AsyncEngine) -> None:
    client = await make_client()
    before = await users(engine)
    response = await client.post(
        "/admin/users/ghost/role", data={"role": "viewer", "csrf_token": await page_token(client)}
    )
    assert response.status == 400
    assert "there is no user named &#39;ghost&#39;" in await response.text()
    assert await users(engine) == before


async def test_user_chooses_a_new_password_with_the_current_one(
    make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    body = await (await client.get("/account/password")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
    response = await client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": "wrong",
            "password": "n3w password",
            "repeat": "n3w password",
        },
    )
    assert response.status == 400
    assert "The current password is wrong." in await response.text()
    response = await client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": TEST_PASSWORD,
            "password": "n3w password",
            "repeat": "n3w password",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    assert (await client.get("/")).status == 200  # still signed in with the new version
    client.session.cookie_jar.clear()
    assert (await sign_in_as(client, "test-editor", "n3w password")).status == 303
