"""The `auth:` section of config.yaml: defaults, values, environment, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parent.parent
BASE = "database:\n  url: sqlite+aiosqlite:///a.db\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_committed_config_documents_the_auth_defaults() -> None:
    auth = load_settings(REPO / "config.yaml", environ={}).auth
    assert auth.table_prefix == "webapp_"
    assert auth.database_url is None
    assert (auth.idle_timeout, auth.login_window) == (3600, 900)
    assert (auth.max_failures_per_user, auth.max_failures_per_address) == (5, 20)
    assert auth.password_hash.memory_kib == 65536


def test_auth_values_and_a_separate_database_from_the_environment(tmp_path: Path) -> None:
    body = BASE + (
        "auth:\n  idle_timeout: 120\n  table_prefix: tool_\n  login_window: 60\n"
        "  max_failures_per_user: 2\n  max_failures_per_address: 9\n  sign_in_link_ttl: 30\n"
        "  password_hash: {time_cost: 2, memory_kib: 1024, parallelism: 2}\n"
    )
    settings = load_settings(
        write(tmp_path, body),
        environ={"WEBAPP_AUTH_DATABASE_URL": "sqlite+aiosqlite:///users.db"},
    )
    auth = settings.auth
    assert (auth.idle_timeout, auth.table_prefix, auth.login_window) == (120, "tool_", 60)
    assert (auth.max_failures_per_user, auth.max_failures_per_address) == (2, 9)
    assert auth.sign_in_link_ttl == 30
    assert (auth.password_hash.time_cost, auth.password_hash.memory_kib) == (2, 1024)
    assert auth.database_url.database == str(tmp_path / "users.db")
    assert settings.hidden_table_prefix is None  # its own database: nothing to hide here


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("auth:\n  colour: red\n", "unknown setting auth.colour"),
        ("auth:\n  password_hash: {salt: 1}\n", "unknown setting auth.password_hash.salt"),
        ("auth:\n  table_prefix: 'x; DROP'\n", "auth.table_prefix must start with a letter"),
        ("auth:\n  table_prefix: ''\n", "auth.table_prefix must start with a letter"),
        ("auth:\n  idle_timeout: 5\n", "auth.idle_timeout must be a whole number from 60"),
        ("auth:\n  max_failures_per_user: 0\n", "auth.max_failures_per_user must be"),
        ("auth:\n  database_url: oracle://x/y\n", "auth.database_url uses the driver 'oracle'"),
        ("auth:\n  password_hash: {memory_kib: 1}\n", "auth.password_hash.memory_kib must be"),
        ("auth: [1]\n", "auth must be a mapping"),
    ],
)
def test_auth_mistakes_are_one_clear_line(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, BASE + section), environ={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
