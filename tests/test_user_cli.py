"""`python -m webapp user ...` against each backend: add, list, set-role, disable, enable,
set-password; bad input is one `webapp: error:` line and exit code 2 with nothing changed;
and the server refuses a non-loopback address while no user exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import CliResult, run_main, run_webapp


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database:\n  url: {db_url}\n"
        "auth:\n  password_hash: {time_cost: 1, memory_kib: 64, parallelism: 1}\n",
        encoding="utf-8",
    )
    return path


def webapp(config: Path, *args: str, password: str | None = None) -> CliResult:
    """The command line, in-process, on the test's database."""
    return run_main(
        *args, "--config", str(config), env={"WEBAPP_SECRET_KEY": "k" * 40}, stdin=password or ""
    )


async def users(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT username, role, disabled FROM webapp_users ORDER BY username")
        )
        return [(name, role, bool(disabled)) for name, role, disabled in rows]


async def test_user_commands_add_list_change_and_disable(config: Path, engine: AsyncEngine) -> None:
    result = webapp(config, "user", "add", "alice", "--role", "admin", password="alice pass 1\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "webapp: added alice (admin)"
    assert (
        webapp(
            config, "user", "add", "bob", "--role", "viewer", password="bob pass 12\n"
        ).returncode
        == 0
    )
    assert webapp(config, "user", "set-role", "bob", "editor").returncode == 0
    assert webapp(config, "user", "disable", "bob").returncode == 0
    assert await users(engine) == [("alice", "admin", False), ("bob", "editor", True)]
    # `python -m webapp` itself, once: the entry point a user's shell runs.
    listing = run_webapp(
        "user", "list", "--config", str(config), env={"WEBAPP_SECRET_KEY": "k" * 40}
    )
    assert listing.returncode == 0
    assert listing.stdout.splitlines() == ["alice\tadmin\tactive", "bob\teditor\tdisabled"]
    assert webapp(config, "user", "enable", "bob").returncode == 0
    assert await users(engine) == [("alice", "admin", False), ("bob", "editor", False)]
    async with engine.connect() as conn:
        stored = await conn.scalar(
            text("SELECT password_hash FROM webapp_users WHERE username = 'bob'")
        )
    assert stored.startswith("$argon2id$") and "bob pass" not in stored
    result = webapp(config, "user", "set-password", "bob", password="new bob pass\n")
    assert result.returncode == 0, result.stderr
    async with engine.connect() as conn:
        changed = await conn.scalar(
            text("SELECT password_hash FROM webapp_users WHERE username = 'bob'")
        )
    assert changed != stored


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("user", "add", "carol", "--role", "owner"), "carol pass 1\n", "unknown role 'owner'"),
        (("user", "add", "alice", "--role", "viewer"), "other pass 1\n", "already exists"),
        (("user", "add", "carol", "--role", "viewer"), "\n", "password is empty"),
        (("user", "set-role", "nobody", "viewer"), None, "there is no user named 'nobody'"),
        (("user", "set-role", "alice", "root"), None, "unknown role 'root'"),
        (("user", "disable", "alice"), None, "last enabled admin"),
        (("user", "disable", "nobody"), None, "there is no user named 'nobody'"),
        (("user", "set-password", "alice"), "short\n", "at least 8 characters"),
        (("user", "set-password", "nobody"), "long enough 1\n", "no user named 'nobody'"),
        (("user", "add", "carol"), None, "the following arguments are required: --role"),
        (("user", "frobnicate"), None, "invalid choice: 'frobnicate'"),
    ],
)
async def test_bad_user_command_is_one_line_exit_2_and_changes_nothing(
    config: Path, engine: AsyncEngine, args: tuple[str, ...], password: str | None, message: str
) -> None:
    assert (
        webapp(
            config, "user", "add", "alice", "--role", "admin", password="alice pass 1\n"
        ).returncode
        == 0
    )
    before = await users(engine)
    result = webapp(config, *args, password=password)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("webapp: error:"), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert await users(engine) == before


async def test_server_refuses_a_non_loopback_address_with_no_users(
    config: Path, engine: AsyncEngine
) -> None:
    result = webapp(config, "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("webapp: error: no user exists yet")
    assert "python -m webapp user add NAME --role admin" in lines[0]
    assert await users(engine) == []


@pytest.mark.parametrize(
    ("argv", "command", "config", "port"),
    [
        ([], None, None, None),
        (["--config", "c.yaml", "--port", "9"], None, "c.yaml", 9),
        (["serve", "--port", "9", "--config", "c.yaml"], "serve", "c.yaml", 9),
        (["--config", "c.yaml", "user", "list"], "user", "c.yaml", None),
        (["user", "list", "--config", "c.yaml"], "user", "c.yaml", None),
    ],
)
def test_command_line_serves_by_default_and_takes_config_anywhere(
    argv: list[str], command: str | None, config: str | None, port: int | None
) -> None:
    from webapp.__main__ import parse_args

    args = parse_args(argv)
    assert args.command == command
    assert (str(args.config) if args.config else None) == config
    assert args.port == port
