"""The request id (`X-Request-ID`, generated or a sane one kept) on every answer, the access
log in its three modes, and sign-in, sign-out and refused sign-ins in the log, on each
backend."""

from __future__ import annotations

import json
import logging
import re
from ipaddress import ip_network

import pytest

from tests.helpers import FAST_HASHING, TEST_PASSWORD, add_test_user, form_token
from webapp.settings import SettingsError, load_settings

GENERATED = re.compile(r"^[0-9a-f]{32}$")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "webapp.access"]


def auth_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "webapp.auth"]


async def test_every_answer_names_its_request_id(make_client) -> None:
    client = await make_client(role="viewer")
    ids = set()
    for path in ("/", "/t/no_such_table", "/healthz", "/static/app.css"):
        response = await client.get(path, allow_redirects=False)
        ids.add(response.headers["X-Request-ID"])
        assert GENERATED.match(response.headers["X-Request-ID"]), path
    assert len(ids) == 4
    anonymous = await make_client(role=None)
    response = await anonymous.get("/", allow_redirects=False)
    assert response.status == 302 and GENERATED.match(response.headers["X-Request-ID"])


async def test_a_sane_incoming_id_is_kept_and_an_odd_one_replaced(make_client) -> None:
    client = await make_client(role="viewer")
    kept = "7F000001:C3A2_7F000001:1F90_6750F1A2_0001:2A"
    response = await client.get("/healthz", headers={"X-Request-ID": kept})
    assert response.headers["X-Request-ID"] == kept
    for odd in ("x" * 129, "has space", "semi;colon", "", 'quote"d'):
        response = await client.get("/healthz", headers={"X-Request-ID": odd})
        assert GENERATED.match(response.headers["X-Request-ID"]), odd


async def test_json_access_lines(make_client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = await make_client(role="viewer", access_log="json")
    caplog.clear()
    response = await client.get("/t/no_such_table?q=x", headers={"User-Agent": 'probe "1"'})
    assert response.status == 404
    (line,) = access_lines(caplog)
    entry = json.loads(line)
    assert entry["request_id"] == response.headers["X-Request-ID"]
    assert entry["status"] == 404 and entry["method"] == "GET"
    assert entry["path"] == "/t/no_such_table?q=x"
    assert entry["user"] == "test-viewer" and entry["remote"] == "127.0.0.1"
    assert entry["bytes"] > 0 and entry["duration_ms"] >= 0
    assert entry["user_agent"] == 'probe "1"'


async def test_plain_access_lines_behind_a_trusted_proxy(
    make_client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = await make_client(
        role=None, access_log="plain", trusted_proxies=(ip_network("127.0.0.1/32"),)
    )
    caplog.clear()
    response = await client.get(
        "/healthz", headers={"X-Forwarded-For": "203.0.113.7", "X-Request-ID": "abc-123"}
    )
    assert response.status == 200
    (line,) = access_lines(caplog)
    assert re.fullmatch(
        r'203\.0\.113\.7 - - \[[0-9T:.+-]+\] "GET /healthz" 200 3 [0-9.]+ms id=abc-123 "[^"]*"',
        line,
    ), line


async def test_off_writes_no_access_lines(make_client, caplog) -> None:
    caplog.set_level(logging.INFO)
    client = await make_client(role="viewer")
    caplog.clear()
    assert (await client.get("/healthz")).status == 200
    assert access_lines(caplog) == []


async def test_sign_in_events_are_logged(make_client, caplog) -> None:
    caplog.set_level(logging.INFO)
    client = await make_client(role=None)
    await add_test_user(client.app, "editor", "bob")
    for password in ("wrong", TEST_PASSWORD):
        response = await client.post(
            "/login",
            data={
                "csrf_token": await form_token(client),
                "username": "bob",
                "password": password,
            },
            allow_redirects=False,
            headers={"X-Request-ID": f"try-{password[:5]}"},
        )
    assert response.status == 303
    odd = await client.post(
        "/login",
        data={"csrf_token": await form_token(client), "username": "a\nb", "password": "x"},
    )
    assert odd.status == 401
    page = await (await client.get("/")).text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    out = await client.post("/logout", data={"csrf_token": csrf.group(1)}, allow_redirects=False)
    assert out.status == 303
    lines = auth_lines(caplog)
    assert lines[0] == (
        'failed sign-in: user="bob" address=127.0.0.1 request_id=try-wrong '
        "(wrong user name or password)"
    )
    assert lines[1] == 'sign-in: user="bob" address=127.0.0.1 request_id=try-corre'
    assert lines[2].startswith('failed sign-in: user="a\\nb" address=127.0.0.1 request_id=')
    assert lines[3].startswith('sign-out: user="bob" address=127.0.0.1 request_id=')
    assert all("\n" not in line for line in lines)


async def test_throttled_sign_ins_are_logged(make_client, caplog) -> None:
    caplog.set_level(logging.INFO)
    client = await make_client(role=None)
    await add_test_user(client.app, "viewer", "carol")
    limit = FAST_HASHING.max_failures_per_user
    for _ in range(limit + 1):
        await client.post(
            "/login",
            data={"csrf_token": await form_token(client), "username": "carol", "password": "x"},
        )
    assert re.fullmatch(
        r'failed sign-in: user="carol" address=127\.0\.0\.1 request_id=\w+ '
        r"\(throttled for \d+ s\)",
        auth_lines(caplog)[-1],
    )


def test_the_access_log_setting_is_checked(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    base = "database:\n  url: sqlite+aiosqlite:///x.db\nserver:\n  access_log: "
    for given, expected in (("off", "off"), ("plain", "plain"), ("JSON", "json")):
        config.write_text(base + given + "\n", encoding="utf-8")
        assert load_settings(config, environ={}).access_log == expected
    config.write_text(base + "verbose\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"server\.access_log must be off, plain or json"):
        load_settings(config, environ={})
