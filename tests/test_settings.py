"""Settings from config.yaml and the environment, and the command line's one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO, run_main, run_webapp, write_config
from webapp.settings import SettingsError, load_settings


def test_committed_config_is_the_embedded_sqlite_demo() -> None:
    settings = load_settings(REPO / "config.yaml", environ={})
    assert settings.database.url.drivername == "sqlite+aiosqlite"
    assert Path(settings.database.url.database).parent == REPO
    assert settings.database.demo is True
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


def test_every_wait_bound_is_a_setting(tmp_path: Path) -> None:
    committed = load_settings(REPO / "config.yaml", environ={})
    assert committed.database.lock_timeout == 10
    assert (committed.body_timeout, committed.send_timeout, committed.shutdown_timeout) == (
        60,
        30,
        10,
    )
    path = write_config(
        tmp_path,
        "database:\n  url: sqlite+aiosqlite:///a.db\n  lock_timeout: 2.5\n"
        "server:\n  body_timeout: 5\n  send_timeout: 7\n  shutdown_timeout: 3\n",
    )
    settings = load_settings(path, environ={})
    assert settings.database.lock_timeout == 2.5
    assert (settings.body_timeout, settings.send_timeout, settings.shutdown_timeout) == (5, 7, 3)


def test_environment_overrides_the_file_and_turns_the_demo_off(tmp_path: Path) -> None:
    path = write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///a.db\n  demo: true\n")
    settings = load_settings(
        path,
        environ={
            "WEBAPP_DATABASE_URL": "postgresql+asyncpg://u:secret@db.example/x",
            "WEBAPP_PORT": "9000",
            "WEBAPP_HOST": "0.0.0.0",
        },
    )
    assert settings.database.backend == "postgresql"
    assert settings.database.demo is False
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    demo_on = load_settings(
        path,
        environ={"WEBAPP_DATABASE_URL": "sqlite+aiosqlite:///b.db", "WEBAPP_DATABASE_DEMO": "1"},
    )
    assert demo_on.database.demo is True


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    settings = load_settings(
        write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///d/x.db\n"), {}
    )
    assert settings.database.url.database == str(tmp_path / "d" / "x.db")


@pytest.mark.parametrize(
    ("body", "environ", "message"),
    [
        (
            "database:\n  url: sqlite+aiosqlite:///a.db\n  colour: red\n",
            {},
            "unknown setting database.colour",
        ),
        ("databse:\n  url: x\n", {}, "unknown setting databse"),
        ("server:\n  port: 8080\n", {}, "database.url is missing"),
        ("database:\n  url: oracle://x/y\n", {}, "uses the driver 'oracle'"),
        ("database:\n  url: mysql+pymysql://x/y\n", {}, "supported: "),
        ("database:\n  url: not a url\n", {}, "is not a database URL"),
        ("database:\n  url: sqlite+aiosqlite://\n", {}, "must name a SQLite file"),
        (
            "database:\n  url: sqlite+aiosqlite:///a.db\nserver:\n  port: 70000\n",
            {},
            "server.port must be",
        ),
        (
            "database:\n  url: sqlite+aiosqlite:///a.db\n",
            {"WEBAPP_PORT": "http"},
            "WEBAPP_PORT must be",
        ),
        (
            "database:\n  url: sqlite+aiosqlite:///a.db\n  demo: maybe\n",
            {},
            "database.demo must be true or false",
        ),
        (
            "database:\n  url: sqlite+aiosqlite:///a.db\n  pool_timeout: -1\n",
            {},
            "database.pool_timeout",
        ),
        (
            "database:\n  url: sqlite+aiosqlite:///a.db\npages:\n  size: 900\n  max_size: 500\n",
            {},
            "pages.size must be",
        ),
        (
            "database:\n  url: sqlite+aiosqlite:///a.db\npages:\n  search_chunk_rows: 0\n",
            {},
            "pages.search_chunk_rows must be a whole number from 1",
        ),
        (
            "database:\n  url: sqlite+aiosqlite:///a.db\n  lock_timeout: 0\n",
            {},
            "database.lock_timeout must be a number of seconds above 0",
        ),
        (
            "database:\n  url: sqlite+aiosqlite:///a.db\nserver:\n  send_timeout: soon\n",
            {},
            "server.send_timeout must be a number of seconds",
        ),
        ("- just\n- a list\n", {}, "top level must be a mapping"),
        ("database: [\n", {}, "not valid YAML at line"),
    ],
)
def test_config_mistakes_are_one_clear_message(
    tmp_path: Path, body: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write_config(tmp_path, body), environ)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///a.db\n  colour: red\n")
    result = run_main("--config", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("webapp: error:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_cli_missing_config_file(tmp_path: Path) -> None:
    result = run_main("--config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "cannot read the file" in result.stderr


def test_cli_unreachable_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, "database:\n  url: mysql+aiomysql://root:pw@127.0.0.1:1/x\n  connect_timeout: 2\n"
    )
    result = run_main("--config", str(path), "--port", "0")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("webapp:")]
    assert len(lines) == 1 and "cannot use the database" in lines[0]
    assert "pw" not in result.stderr and "Traceback" not in result.stderr


def test_cli_help_names_the_options() -> None:
    result = run_webapp("--help")  # `python -m webapp` itself, as a user runs it
    assert result.returncode == 0
    for option in ("--config", "--host", "--port"):
        assert option in result.stdout


def test_secret_key_is_generated_once_into_a_private_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///a.db\n")
    first = load_settings(path, environ={}).secret_key
    key_file = tmp_path / ".secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_settings(path, environ={}).secret_key == first
    assert len(first) >= 32


def test_secret_key_from_the_environment_wins(tmp_path: Path) -> None:
    path = write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///a.db\n")
    settings = load_settings(path, environ={"WEBAPP_SECRET_KEY": "k" * 40})
    assert settings.secret_key == b"k" * 40
    assert not (tmp_path / ".secret_key").exists()


def test_short_secret_key_is_a_one_line_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///a.db\n")
    with pytest.raises(SettingsError, match="WEBAPP_SECRET_KEY must be at least 32"):
        load_settings(path, environ={"WEBAPP_SECRET_KEY": "short"})


def test_api_cors_origins_are_origins_or_a_one_line_error(tmp_path: Path) -> None:
    base = "database:\n  url: sqlite+aiosqlite:///a.db\n"
    assert load_settings(REPO / "config.yaml", environ={}).api.cors_origins == frozenset()
    settings = load_settings(
        write_config(tmp_path, base + "api:\n  cors_origins: [https://Tools.example:8443]\n"), {}
    )
    assert settings.api.cors_origins == frozenset({"https://tools.example:8443"})
    for bad in ("'*'", "[https://x.example/path]", "[ftp://x.example]", "[3]"):
        with pytest.raises(SettingsError, match=r"api\.cors_origins must be a list of origins"):
            load_settings(write_config(tmp_path, base + f"api:\n  cors_origins: {bad}\n"), {})
    with pytest.raises(SettingsError, match=r"unknown setting api\.cors"):
        load_settings(write_config(tmp_path, base + "api:\n  cors: []\n"), {})


def test_cli_version_names_the_installed_version() -> None:
    from importlib.metadata import version

    result = run_webapp("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"webapp {version('webapp')}"


def test_pages_and_static_files_are_found_through_the_package() -> None:
    from webapp.app import STATIC_DIR, TEMPLATES_DIR

    assert (TEMPLATES_DIR / "base.html").is_file() and (STATIC_DIR / "app.css").is_file()
    # The wheel ships what the package holds: in a checkout both are links to the top level.
    package = Path(__import__("webapp").__file__).resolve().parent
    assert (package / "templates").resolve() == TEMPLATES_DIR.resolve()
