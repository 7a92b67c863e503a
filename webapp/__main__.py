"""`python -m webapp`: serve the configured database in the browser (`serve`, the default),
or manage its users (`user ...`) and their API tokens (`token ...`), or import a file into a
table (`import TABLE FILE`). Each command imports
what it needs when it runs, so a `user` or `token` command never loads the web stack."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from webapp.settings import MAX_WORKERS, Settings, SettingsError, load_settings

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"


class CommandLineError(Exception):
    """A mistake on the command line, reported in one line with exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `webapp: error:` line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"webapp: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = resolve_settings(args)
    except SettingsError as exc:
        return fail(exc, 2)
    if args.command == "user":
        from webapp.accounts.commands import run_user_command
        from webapp.accounts.store import AccountError
        from webapp.web.errors import first_line

        try:
            asyncio.run(run_user_command(settings, args, sys.stdout))
        except AccountError as exc:
            return fail(exc, 2)
        except Exception as exc:
            reason = first_line(exc)
            return fail(f"cannot use the users' tables: {reason}", 1)
        return 0
    if args.command == "token":
        from webapp.accounts.commands import run_token_command
        from webapp.accounts.store import AccountError
        from webapp.web.errors import first_line

        try:
            asyncio.run(run_token_command(settings, args, sys.stdout))
        except AccountError as exc:
            return fail(exc, 2)
        except Exception as exc:
            return fail(f"cannot use the tokens' table: {first_line(exc)}", 1)
        return 0
    if args.command == "import":
        from webapp.changes.import_command import (
            ImportCommandError,
            ImportRefused,
            run_import_command,
        )
        from webapp.web.errors import first_line

        try:
            asyncio.run(run_import_command(settings, args, sys.stdout, sys.stderr))
        except ImportCommandError as exc:
            return fail(exc, 2)
        except ImportRefused as exc:
            return fail(exc, 1)
        except Exception as exc:
            return fail(f"cannot import: {first_line(exc)}", 1)
        return 0
    return serve(settings)


def serve(settings: Settings) -> int:
    from aiohttp import web

    from webapp.accounts.lifecycle import NoUsersError, first_run
    from webapp.app import create_app
    from webapp.database.engine import StartupError
    from webapp.schema.watch import reload_on_sighup
    from webapp.web.appkeys import STARTUP_PROGRESS

    try:
        token = asyncio.run(first_run(settings))
    except NoUsersError as exc:
        return fail(exc, 2)
    except StartupError as exc:
        return fail(exc, 1)
    from webapp.web.access_log import configure_access_log
    from webapp.web.tls import tls_context

    try:
        ssl_context = tls_context(settings)
    except (OSError, ValueError) as exc:
        return fail(f"cannot use server.certfile/keyfile: {exc}", 2)
    if settings.workers > 1:
        return serve_workers(settings, token)
    scheme = "https" if ssl_context is not None else "http"
    address = f"{scheme}://{settings.host}:{settings.port}"
    configure_access_log(settings.access_log)
    app = create_app(settings)
    app[STARTUP_PROGRESS] = lambda line: print(f"webapp: {line}", flush=True)
    reload_on_sighup(app)

    def announce(_: str) -> None:
        print(
            f"webapp: serving {describe(settings)} on {address}/ (Ctrl+C to stop)",
            flush=True,
        )
        print_sign_in_link(settings, address, token)

    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            access_log=None,
            print=announce,
            shutdown_timeout=settings.shutdown_timeout,
            ssl_context=ssl_context,
        )
    except StartupError as exc:
        return fail(exc, 1)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return fail(
                f"port {settings.port} on {settings.host} is already in use; "
                f"start on another with --port {settings.port + 1}",
                1,
            )
        return fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}", 1)
    return 0


def serve_workers(settings: Settings, token: str | None) -> int:
    """`--workers N`: the demo is filled here, once, then N worker processes serve the port
    under this one (webapp.workers)."""
    from webapp import workers
    from webapp.database.engine import StartupError
    from webapp.demo import prepare_demo

    try:
        asyncio.run(prepare_demo(settings))
    except StartupError as exc:
        return fail(exc, 1)
    holder = None
    if settings.port == 0:
        try:
            holder, port = workers.reserve_port(settings.host)
        except OSError as exc:
            return fail(f"cannot listen on {settings.host}: {exc.strerror}", 1)
        settings = settings.with_overrides(port=port)
    scheme = "https" if settings.certfile is not None else "http"
    address = f"{scheme}://{settings.host}:{settings.port}"

    def announce() -> None:
        print(
            f"webapp: serving {describe(settings)} on {address}/ with {settings.workers} "
            "workers (Ctrl+C to stop)",
            flush=True,
        )
        print_sign_in_link(settings, address, token)

    try:
        return workers.serve_workers(settings, settings.workers, announce)
    finally:
        if holder is not None:
            holder.close()


def print_sign_in_link(settings: Settings, address: str, token: str | None) -> None:
    if token is not None:
        minutes = settings.auth.sign_in_link_ttl // 60
        print(
            "webapp: no user exists yet. Open this one-time link to sign in as the first "
            f"admin (valid once, for {minutes} minutes):\n"
            f"    {address}/login/token/{token}",
            flush=True,
        )


def fail(message: object, code: int) -> int:
    print(f"webapp: error: {message}", file=sys.stderr)
    return code


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from webapp.accounts.commands import add_token_commands, add_user_commands
    from webapp.changes.import_command import add_import_command

    common = OneLineParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help=f"settings file (default: {DEFAULT_CONFIG})",
    )
    server = OneLineParser(add_help=False)
    server.add_argument(
        "--host", default=argparse.SUPPRESS, help="address to listen on (default from the config)"
    )
    server.add_argument(
        "--port",
        type=int,
        default=argparse.SUPPRESS,
        help="port to listen on (default from the config)",
    )
    server.add_argument(
        "--workers",
        type=int,
        default=argparse.SUPPRESS,
        help="worker processes serving the one port (default from the config: server.workers)",
    )
    parser = OneLineParser(
        prog=program_name(),
        description="Browse and edit the records of a MySQL/MariaDB, PostgreSQL or SQLite "
        "database. Without a command: serve.",
        epilog="A running server re-reads the database's tables and columns on SIGHUP "
        "(kill -HUP PID), as it does by itself when it notices they changed.",
        parents=[common, server],
    )
    parser.add_argument("--version", action="version", version=f"webapp {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="serve the database (the default)", parents=[common, server])
    add_user_commands(commands, common)
    add_token_commands(commands, common)
    add_import_command(commands, common)
    args = parser.parse_args(argv)
    for name in ("config", "host", "port", "workers"):
        if not hasattr(args, name):
            setattr(args, name, None)
    return args


def program_name() -> str:
    """`webapp` when run as the console script, else how a checkout runs it."""
    return "webapp" if Path(sys.argv[0]).name == "webapp" else "python -m webapp"


def package_version() -> str:
    """The installed distribution's version (pyproject.toml is its one source)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("webapp")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def resolve_settings(args: argparse.Namespace) -> Settings:
    config = args.config
    if config is None and DEFAULT_CONFIG.exists():
        config = DEFAULT_CONFIG
    settings = load_settings(config)
    if args.host:
        settings = settings.with_overrides(host=args.host)
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise SettingsError(f"--port must be from 0 to 65535, not {args.port}")
        settings = settings.with_overrides(port=args.port)
    if args.workers is not None:
        if not 1 <= args.workers <= MAX_WORKERS:
            raise SettingsError(f"--workers must be from 1 to {MAX_WORKERS}, not {args.workers}")
        settings = settings.with_overrides(workers=args.workers)
    return settings


def describe(settings: Settings) -> str:
    from webapp.database.dialects import describe_url

    return describe_url(settings.database.url)


if __name__ == "__main__":
    sys.exit(main())
