"""API tokens: made on the command line (printed once) or in code, stored as a hash, used
as `Authorization: Bearer`, read-only when so made, ended at once by revoking, expiry or
disabling the user; listed with their last use; one-line errors on bad input."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import TEST_PASSWORD, CliResult, form_token, run_main
from webapp import clock
from webapp.accounts.api_tokens import create_token, revoke_token
from webapp.web.appkeys import ACCOUNTS

PROBLEM = "application/problem+json"


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database:\n  url: {db_url}\n"
        "auth:\n  password_hash: {time_cost: 1, memory_kib: 64, parallelism: 1}\n",
        encoding="utf-8",
    )
    return path


def webapp(config: Path, *args: str, stdin: str = "") -> CliResult:
    environment = {"WEBAPP_SECRET_KEY": "k" * 40}
    return run_main(*args, "--config", str(config), env=environment, stdin=stdin)


async def arrange(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(40))"))
        await conn.execute(text("INSERT INTO notes VALUES (1, 'one')"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_cli_adds_lists_and_revokes_tokens(config: Path, engine: AsyncEngine) -> None:
    added = webapp(config, "user", "add", "ann", "--role", "editor", stdin=TEST_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    result = webapp(config, "token", "add", "ann", "--read-only", "--expires", "30")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("wat_1_") and "shown only now" in result.stderr
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret_hash FROM webapp_api_tokens"))).scalar()
    assert stored and token.split("_", 2)[2] not in stored  # only a hash is kept
    listing = webapp(config, "token", "list", "ann")
    fields = listing.stdout.strip().split("\t")
    assert fields[0] == "1" and fields[2] == "read-only" and fields[-1] == "active"
    assert webapp(config, "token", "revoke", "1").returncode == 0
    assert (
        webapp(config, "token", "list", "ann").stdout.strip().split("\t")[-1].startswith("revoked")
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("token", "add", "nobody"), "there is no user named 'nobody'"),
        (("token", "add", "ann", "--expires", "0"), "expires after 1 to"),
        (("token", "revoke", "99"), "there is no token 99"),
        (("token", "revoke", "99999999999"), "there is no token 99999999999"),
        (("token", "list", "nobody"), "there is no user named 'nobody'"),
    ],
)
async def test_cli_refuses_bad_input_in_one_line(config: Path, args, message: str) -> None:
    webapp(config, "user", "add", "ann", "--role", "editor", stdin=TEST_PASSWORD + "\n")
    result = webapp(config, *args)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("webapp: error:") and message in result.stderr


async def test_bearer_tokens_act_as_their_user(make_client, engine: AsyncEngine) -> None:
    await arrange(engine)
    client = await make_client(role="editor")
    accounts = client.server.app[ACCOUNTS]
    writer, _ = await create_token(accounts, "test-editor", read_only=False, days=None)
    reader, _ = await create_token(accounts, "test-editor", read_only=True, days=None)
    client.session.cookie_jar.clear()

    response = await client.get("/api/t/notes/r/1", headers=bearer(reader))
    assert response.status == 200
    etag = response.headers["ETag"]
    refused = await client.patch(
        "/api/t/notes/r/1", json={"body": "x"}, headers={**bearer(reader), "If-Match": etag}
    )
    assert (
        refused.status == 403
        and "read-only" in (await refused.json(content_type=PROBLEM))["detail"]
    )
    # No CSRF token needed with a Bearer token; a write passes the gate.
    changed = await client.patch(
        "/api/t/notes/r/1", json={"body": "two"}, headers={**bearer(writer), "If-Match": etag}
    )
    assert changed.status == 200, await changed.text()
    assert (await changed.json())["values"]["body"] == "two"
    activity = await (await client.get("/api/activity", headers=bearer(writer))).json()
    assert activity["entries"][0]["username"] == "test-editor"


async def test_revoked_expired_and_disabled_end_at_once(make_client, engine: AsyncEngine) -> None:
    await arrange(engine)
    client = await make_client(role="viewer")
    accounts = client.server.app[ACCOUNTS]
    client.session.cookie_jar.clear()
    token, _ = await create_token(accounts, "test-viewer", read_only=False, days=1)
    assert (await client.get("/api/", headers=bearer(token))).status == 200
    async with engine.connect() as conn:
        used = (await conn.execute(text("SELECT last_used_at FROM webapp_api_tokens"))).scalar()
    assert used is not None

    later = clock.now() + dt.timedelta(days=1, seconds=5).total_seconds()
    original = clock.now
    clock.now = lambda: later  # type: ignore[assignment]
    try:
        expired = await client.get("/api/", headers=bearer(token))
    finally:
        clock.now = original  # type: ignore[assignment]
    assert expired.status == 401 and expired.content_type == PROBLEM

    other, other_row = await create_token(accounts, "test-viewer", read_only=True, days=None)
    assert (await client.get("/api/", headers=bearer(other))).status == 200
    await revoke_token(accounts, other_row.id)
    assert (await client.get("/api/", headers=bearer(other))).status == 401

    third, _ = await create_token(accounts, "test-viewer", read_only=True, days=None)
    assert (await client.get("/api/", headers=bearer(third))).status == 200
    await accounts.set_disabled("test-viewer", True)
    assert (await client.get("/api/", headers=bearer(third))).status == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wat_1_short",
        "Bearer nonsense",
        "Bearer ",
        "Token abc",
        "Bearer wat_99_" + "a" * 43,
        "Bearer wat_99999999999_" + "a" * 43,
    ],
)
async def test_malformed_or_unknown_tokens_are_401(make_client, engine, header: str) -> None:
    await arrange(engine)
    client = await make_client(role=None)
    response = await client.get("/api/t/notes", headers={"Authorization": header})
    assert response.status == 401
    assert response.content_type == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_account_page_makes_lists_and_revokes_tokens(make_client, engine) -> None:
    await arrange(engine)
    client = await make_client(role="viewer")
    csrf = await form_token(client, "/account/tokens")
    page = await client.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "nightly", "read_only": "1"}
    )
    assert page.status == 200
    html = await page.text()
    token = re.search(r'<code class="new-token">([^<]+)</code>', html).group(1)
    assert "nightly" in html and "read-only" in html
    listing = await (await client.get("/account/tokens")).text()
    assert token not in listing and "nightly" in listing  # shown once only
    # The Bearer token, not the session, decides (a read-only token refuses writes).
    assert (await client.get("/api/t/notes", headers=bearer(token))).status == 200
    number = token.split("_")[1]
    revoked = await client.post(
        f"/account/tokens/{number}/revoke", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert revoked.status == 303
    assert (await client.get("/api/t/notes", headers=bearer(token))).status == 401
    bad = await client.post("/account/tokens", data={"csrf_token": csrf, "days": "soon"})
    assert bad.status == 400 and "number of days" in await bad.text()


async def test_nobody_revokes_another_users_token(make_client, engine) -> None:
    await arrange(engine)
    client = await make_client(role="viewer")
    accounts = client.server.app[ACCOUNTS]
    await accounts.add_user("someone", "editor", TEST_PASSWORD)
    token, row = await create_token(accounts, "someone", read_only=False, days=None)
    csrf = await form_token(client, "/account/tokens")
    for target in (str(row.id), "999", "x"):
        response = await client.post(
            f"/account/tokens/{target}/revoke", data={"csrf_token": csrf}, allow_redirects=False
        )
        assert response.status == 404
    client.session.cookie_jar.clear()
    assert (await client.get("/api/", headers=bearer(token))).status == 200
