"""`python -m webapp import TABLE FILE`: the import pages' dry run and import from the shell,
audited as the named user (their role's rules apply) or as `cli`. Exit codes: 0 imported
(or checked), 2 the input is wrong (an unknown table or column, a file that cannot be read,
rows that cannot be parsed: each printed with its line, nothing written), 1 the database
refused the import (nothing written)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from webapp.settings import Settings

if TYPE_CHECKING:
    from webapp.changes.imports import ImportProgress

CLI_ACTOR = "cli"


class ImportCommandError(Exception):
    """Bad input on the command line or in the file: one line, exit code 2."""


def add_import_command(
    subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    command = subparsers.add_parser(
        "import", help="import a CSV or JSON file into a table", parents=[common]
    )
    command.add_argument("table", help="the table to import into")
    command.add_argument("file", type=Path, help="a CSV file with a header row, or a JSON array")
    command.add_argument("--format", choices=("csv", "json"), help="default: from the file")
    command.add_argument("--delimiter", help="the CSV delimiter (default: sniffed)")
    command.add_argument("--upsert", action="store_true", help="update rows whose key exists")
    command.add_argument("--dry-run", action="store_true", help="check every row, write none")
    command.add_argument("--user", help=f"audit as this user (default: {CLI_ACTOR!r})")


async def run_import_command(
    settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    """Carry out `import`: ImportCommandError for bad input (each bad row printed on `err`
    first), ImportRefused when the database refused it."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from webapp.accounts.store import AccountError, Accounts, accounts_database
    from webapp.changes.audit import AuditLog, AuditTrail
    from webapp.changes.import_files import FileRefused, file_shape, guess_format
    from webapp.changes.import_jobs import REFUSED, FileSource, run_import
    from webapp.changes.imports import (
        ImportPlan,
        ImportProgress,
        MappingRefused,
        check_plan,
        default_mapping,
    )
    from webapp.database.dialects import create_engine
    from webapp.schema.catalog import apply_table_options, reflect_catalog, role_catalogs
    from webapp.web.errors import AppError

    try:
        binary = args.file.open("rb")
    except OSError as exc:
        raise ImportCommandError(f"cannot read {args.file}: {exc.strerror}") from None
    engine = create_engine(settings.database)
    separate = accounts_database(settings)
    accounts_engine = create_engine(separate) if separate is not None else engine
    try:
        accounts = Accounts.on(accounts_engine, settings.auth)
        await accounts.migrate()
        catalog = await reflect_catalog(engine, settings.hidden_table_prefix)
        user_id, username = None, CLI_ACTOR
        if args.user:
            async with accounts.sessionmaker() as session:
                try:
                    user = await accounts.find(session, args.user)
                except AccountError as exc:
                    raise ImportCommandError(str(exc)) from None
            if user.role not in ("editor", "admin"):
                raise ImportCommandError(f"{args.user} ({user.role}) may not change rows")
            catalog = role_catalogs(catalog, settings.tables)[user.role]
            user_id, username = user.id, user.username
        else:
            apply_table_options(catalog, settings.tables)
        info = catalog.tables.get(args.table)
        if info is None:
            raise ImportCommandError(f"there is no table named {args.table!r}")
        if info.read_only_reason:
            raise ImportCommandError(f"{args.table}: {info.read_only_reason}")
        format_ = args.format or guess_format(str(args.file), binary.read(64 * 1024))
        delimiter = {"tab": "\t", "\\t": "\t"}.get(args.delimiter or "", args.delimiter)
        try:
            shape = await asyncio.to_thread(file_shape, binary, format_, delimiter)
        except FileRefused as exc:
            raise ImportCommandError(str(exc)) from None
        if shape.rows > settings.bulk_max_rows:
            raise ImportCommandError(
                f"the file holds {shape.rows:,} rows; an import may hold at most "
                f"{settings.bulk_max_rows:,} (bulk.max_rows)"
            )
        mapping = default_mapping(info, shape.columns, engine.dialect)
        unmatched = [name for name in shape.columns if name not in mapping]
        if unmatched:
            raise ImportCommandError(f"the table has no column to take {unmatched[0]!r}")
        plan = ImportPlan(info, mapping, mode="upsert" if args.upsert else "insert")
        try:
            check_plan(plan, engine.dialect)
        except (MappingRefused, AppError) as exc:
            raise ImportCommandError(str(exc)) from None
        separate_log = accounts.sessionmaker if settings.auth.database_url else None
        trail = AuditTrail(AuditLog(accounts.models, separate_log), user_id, username)
        progress = ImportProgress(total=shape.rows)
        bar = asyncio.create_task(show_progress(progress, err)) if err.isatty() else None
        try:
            state, message = await run_import(
                async_sessionmaker(engine, expire_on_commit=False),
                trail,
                plan,
                FileSource(str(args.file), shape, binary),
                progress,
                dry_run=args.dry_run,
            )
        finally:
            if bar is not None:
                bar.cancel()
                print(file=err)
    finally:
        binary.close()
        await engine.dispose()
        if accounts_engine is not engine:
            await accounts_engine.dispose()
    for error in progress.errors:
        print(f"webapp: {error}", file=err)
    if progress.error_count > len(progress.errors):
        print(f"webapp: ... and {progress.error_count - len(progress.errors):,} more", file=err)
    if state == REFUSED:
        raise ImportRefused(message)
    if progress.error_count or state != ("checked" if args.dry_run else "imported"):
        raise ImportCommandError(message)
    print(f"webapp: {message}", file=out)


async def show_progress(progress: ImportProgress, err: TextIO) -> None:
    """A progress line on a terminal, redrawn twice a second until cancelled."""
    while True:
        left = progress.seconds_left()
        done = 100 * progress.done // progress.total if progress.total else 100
        bar = "#" * (done // 5) + "." * (20 - done // 5)
        print(
            f"\r[{bar}] {progress.done:,}/{progress.total:,} rows, {progress.rate():,.0f} rows/s"
            + (f", {left:,.0f} s left" if left is not None else "")
            + "   ",
            end="",
            file=err,
            flush=True,
        )
        await asyncio.sleep(0.5)


class ImportRefused(Exception):
    """The database refused the import: one line, exit code 1."""
