"""Behind a reverse proxy: `server.trusted_proxies` lets only the listed peers name the client
(X-Forwarded-For / X-Forwarded-Proto / Forwarded), so the sign-in throttle counts per real
client and the cookie is Secure when the client used HTTPS; the settings refuse nonsense in
one line."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest

from tests.helpers import FAST_HASHING, sign_in_as, write_config
from webapp.app import create_app
from webapp.settings import AuthSettings, SettingsError, load_settings, settings_for_url

LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1"))
STRICT = AuthSettings(
    password_hash=FAST_HASHING.password_hash,
    max_failures_per_user=100,
    max_failures_per_user_total=1000,
    max_failures_per_address=3,
)


async def client_for(app_client, db_url: str, trusted=LOOPBACK):
    settings = settings_for_url(db_url, auth=STRICT, trusted_proxies=trusted)
    return await app_client(create_app(settings), role=None)


async def failed_sign_in(client, address: str, name: str) -> int:
    client.session.headers["X-Forwarded-For"] = address
    try:
        return (await sign_in_as(client, name, "wrong password")).status
    finally:
        del client.session.headers["X-Forwarded-For"]


async def test_the_throttle_counts_the_client_a_trusted_proxy_names(app_client, db_url) -> None:
    client = await client_for(app_client, db_url)
    statuses = [await failed_sign_in(client, "203.0.113.7", f"name{i}") for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    # Another client behind the same proxy is not locked out with the first.
    assert await failed_sign_in(client, "203.0.113.8", "someone") == 401
    # A chain: the proxy's own hops are skipped, the first untrusted address is the client.
    assert await failed_sign_in(client, "203.0.113.7, 127.0.0.2", "other") == 429


async def test_an_untrusted_peer_cannot_choose_its_address(app_client, db_url) -> None:
    client = await client_for(app_client, db_url, trusted=(ip_network("10.9.9.9"),))
    for i in range(3):
        assert await failed_sign_in(client, f"203.0.113.{i}", f"name{i}") == 401
    # Every request counted against the real peer, whatever the header said.
    assert await failed_sign_in(client, "198.51.100.1", "fresh") == 429


async def test_forwarded_proto_https_makes_the_cookie_secure(app_client, db_url) -> None:
    client = await client_for(app_client, db_url)
    page = await client.get(
        "/login", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    )
    assert page.cookies["__Host-webapp_session"]["secure"]
    page = await client.get("/login", headers={"Forwarded": "for=203.0.113.7;proto=https"})
    assert page.cookies["__Host-webapp_session"]["secure"]
    page = await client.get("/login")
    assert "__Host-webapp_session" not in page.cookies and page.cookies["webapp_session"]


async def test_forwarded_from_an_untrusted_peer_is_ignored(app_client, db_url) -> None:
    client = await client_for(app_client, db_url, trusted=())
    page = await client.get(
        "/login", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    )
    assert "__Host-webapp_session" not in page.cookies
    assert not page.cookies["webapp_session"]["secure"]


async def test_a_malformed_forwarded_header_is_a_400(app_client, db_url) -> None:
    client = await client_for(app_client, db_url)
    response = await client.get("/login", headers={"X-Forwarded-For": "not an address"})
    assert response.status == 400
    assert "Traceback" not in await response.text()


def test_settings_read_networks_and_addresses(tmp_path: Path) -> None:
    config = "database:\n  url: sqlite+aiosqlite:///a.db\nserver:\n"
    path = write_config(tmp_path, config + "  trusted_proxies: [10.0.0.0/8, 192.168.1.5, '::1']\n")
    settings = load_settings(path, environ={})
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.5/32"),
        ip_network("::1/128"),
    )


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("  trusted_proxies: [10.0.0.300]\n", "server.trusted_proxies: '10.0.0.300' is not an IP"),
        ("  trusted_proxies: 10.0.0.1\n", "server.trusted_proxies must be a list"),
        ("  certfile: cert.pem\n", "server.certfile and server.keyfile go together"),
        ("  certfile: cert.pem\n  keyfile: key.pem\n", "server.certfile: "),
    ],
)
def test_settings_refuse_bad_proxy_and_tls_values(tmp_path: Path, server: str, message: str):
    path = write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///a.db\nserver:\n" + server)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert message in str(caught.value) and "\n" not in str(caught.value)
