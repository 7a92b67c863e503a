"""`/metrics` on each backend: who may read it (an admin session, the configured bearer
token, an allowed address; 401/403 for anyone else), and that the figures move with what
the app does: requests by route and status, statements by kind, the pool, downloads, failed
and throttled sign-ins."""

from __future__ import annotations

import re
from ipaddress import ip_network

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import FAST_HASHING, add_test_user, install_small_demo
from webapp.settings import MetricsSettings, SettingsError, load_settings

TOKEN = "metrics-token-0123456789"


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one sample in the text format (0 when it is not there)."""
    for line in body.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(4))
    return 0.0


@pytest.fixture
async def demo(engine: AsyncEngine) -> None:
    await install_small_demo(engine)


async def test_an_admin_reads_the_figures_of_what_happened(demo, make_client) -> None:
    client = await make_client(role="admin")
    assert (await client.get("/t/authors")).status == 200
    assert (await client.get("/t/no_such_table")).status == 404
    download = await client.get("/t/authors.csv")
    assert download.status == 200 and (await download.text()).count("\n") > 10
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    body = await response.text()
    assert (
        sample(body, "webapp_http_requests_total", route="/t/{table}", method="GET", status="200")
        >= 1
    )
    assert (
        sample(body, "webapp_http_requests_total", route="/t/{table}", method="GET", status="404")
        == 1
    )
    assert sample(body, "webapp_http_request_duration_seconds_count", route="/t/{table}") >= 2
    assert sample(body, "webapp_db_statement_duration_seconds_count", kind="select") >= 1
    assert "INSERT INTO" not in body and "authors" not in body.split("route=")[0]
    assert sample(body, "webapp_exports_total", format="csv", outcome="complete") == 1
    assert sample(body, "webapp_exports_in_progress") == 0
    # Every connection went back: none is in use between requests.
    assert sample(body, "webapp_db_pool_connections_in_use", pool="primary") == 0
    assert "webapp_db_pool_overflow" in body and "webapp_db_pool_wait_timeouts_total" in body


async def test_strangers_and_non_admins_are_refused(make_client) -> None:
    anonymous = await make_client(role=None)
    response = await anonymous.get("/metrics", allow_redirects=False)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "webapp_http_requests" not in await response.text()
    viewer = await make_client(role="viewer")
    response = await viewer.get("/metrics", allow_redirects=False)
    assert response.status == 403
    assert "Only an admin may read the metrics." in await response.text()


async def test_the_configured_token_lets_a_scraper_in(make_client) -> None:
    client = await make_client(role=None, metrics=MetricsSettings(token=TOKEN))
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200 and "webapp_http_requests_total" in await response.text()
    for wrong in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}"):
        response = await client.get("/metrics", headers={"Authorization": wrong})
        assert response.status == 401, wrong
    unconfigured = await make_client(role=None)
    response = await unconfigured.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 401


async def test_an_allowed_address_needs_nothing_else(make_client) -> None:
    allowed = await make_client(
        role=None, metrics=MetricsSettings(allow=(ip_network("127.0.0.0/8"),))
    )
    assert (await allowed.get("/metrics")).status == 200
    elsewhere = await make_client(
        role=None, metrics=MetricsSettings(allow=(ip_network("10.0.0.0/8"),))
    )
    assert (await elsewhere.get("/metrics")).status == 401


async def test_failed_and_throttled_sign_ins_are_counted(make_client) -> None:
    client = await make_client(role=None, metrics=MetricsSettings(token=TOKEN))
    await add_test_user(client.app, "viewer", "victim")
    limit = FAST_HASHING.max_failures_per_user
    statuses = []
    for _ in range(limit + 2):
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', await (await client.get("/login")).text()
        )
        assert token is not None
        response = await client.post(
            "/login",
            data={"csrf_token": token.group(1), "username": "victim", "password": "wrong"},
            allow_redirects=False,
        )
        statuses.append(response.status)
    assert statuses == [401] * limit + [429, 429]
    body = await (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text()
    assert sample(body, "webapp_sign_in_failures_total") == limit
    assert sample(body, "webapp_sign_in_throttled_total") == 2
    assert sample(body, "webapp_http_requests_total", route="/login", status="429") == 2


def test_metrics_settings_are_checked(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    base = "database:\n  url: sqlite+aiosqlite:///x.db\n"
    config.write_text(base + "metrics:\n  token: short\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"metrics\.token must be a text of at least 16"):
        load_settings(config, environ={})
    config.write_text(base + "metrics:\n  allow: [not-an-address]\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"metrics\.allow: .not-an-address. is not an IP"):
        load_settings(config, environ={})
    config.write_text(base + f"metrics:\n  token: {TOKEN}\n  allow: [10.0.0.0/8]\n")
    settings = load_settings(config, environ={})
    assert settings.metrics.token == TOKEN and settings.metrics.allow == (ip_network("10.0.0.0/8"),)
    assert TOKEN not in repr(settings)
    environ = {"WEBAPP_METRICS_TOKEN": "x" * 20}
    assert load_settings(config, environ=environ).metrics.token == "x" * 20
