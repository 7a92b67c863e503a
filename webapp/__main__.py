"""`python -m webapp`: serve the configured database in the browser."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from .app import PROJECT_ROOT, create_app
from .db import StartupError
from .settings import Settings, SettingsError, load_settings

DEFAULT_CONFIG = PROJECT_ROOT / "config.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = resolve_settings(args)
    except SettingsError as exc:
        print(f"webapp: error: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            access_log=None,
            print=lambda _: print(
                f"webapp: serving {describe(settings)} on http://{settings.host}:{settings.port}/ "
                "(Ctrl+C to stop)",
                flush=True,
            ),
        )
    except StartupError as exc:
        print(f"webapp: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"webapp: error: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m webapp",
        description="Browse and edit the records of a MySQL/MariaDB, PostgreSQL or SQLite "
        "database.",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help=f"settings file (default: {DEFAULT_CONFIG})"
    )
    parser.add_argument("--host", help="address to listen on (default from the config)")
    parser.add_argument("--port", type=int, help="port to listen on (default from the config)")
    return parser.parse_args(argv)


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
    return settings


def describe(settings: Settings) -> str:
    from .dialects import describe_url

    return describe_url(settings.database.url)


if __name__ == "__main__":
    sys.exit(main())
