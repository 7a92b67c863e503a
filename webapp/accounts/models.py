"""The app's own tables as SQLAlchemy ORM models, and the ordered steps that create and
migrate them. Table names carry a configurable prefix, so the models are built per prefix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, inspect, select, text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

USERNAME_MAX = 150
# Microseconds on every backend (MySQL's plain DATETIME drops them), so entries sort exactly.
PRECISE_DATETIME = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# Whole rows as JSON: MySQL's TEXT stops at 64 KiB.
LONG_TEXT = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def utc_now() -> dt.datetime:
    """Naive UTC, the form every backend stores alike."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class AccountModels:
    """The model classes for one table prefix."""

    base: type[DeclarativeBase]
    schema_version: type
    user: type
    login_failure: type
    sign_in_token: type
    audit_entry: type
    change_set: type
    sql_run: type
    saved_query: type


@cache
def account_models(prefix: str) -> AccountModels:
    """Model classes whose tables are named `{prefix}users` and so on (built once per prefix)."""

    class Base(DeclarativeBase):
        pass

    class SchemaVersion(Base):
        """One row per migration step applied, so each process knows what is left to do."""

        __tablename__ = f"{prefix}schema_version"
        version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
        applied_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    class User(Base):
        """A person who may sign in. `session_version` changes at logout, disable and password
        change, which ends every cookie that carries the old one."""

        __tablename__ = f"{prefix}users"
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
        password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
        role: Mapped[str] = mapped_column(String(16))
        disabled: Mapped[bool] = mapped_column(Boolean, default=False)
        session_version: Mapped[int] = mapped_column(Integer, default=1)
        created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
        updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now, onupdate=utc_now)

    class LoginFailure(Base):
        """A failed sign-in, counted per subject (`user:NAME` or `address:IP`) in a window."""

        __tablename__ = f"{prefix}login_failures"
        __table_args__ = (Index(f"ix_{prefix}login_failures_subject", "subject", "failed_at"),)
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        subject: Mapped[str] = mapped_column(String(200))
        failed_at: Mapped[dt.datetime] = mapped_column(DateTime)

    class SignInToken(Base):
        """A one-time sign-in link, stored as the SHA-256 of its secret."""

        __tablename__ = f"{prefix}sign_in_tokens"
        token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
        expires_at: Mapped[dt.datetime] = mapped_column(DateTime)

    class AuditEntry(Base):
        """One create, update or delete of a user's row (see webapp/changes/audit.py). Values are
        typed JSON (webapp/changes/audit_values.py); `key_hash` finds a record's history by index.
        `state` is `committed`, or `pending`/`failed` when the data lives in another
        database than this table (`auth.database_url`)."""

        __tablename__ = f"{prefix}audit_log"
        __table_args__ = (
            Index(f"ix_{prefix}audit_log_record", "key_hash", "id"),
            Index(f"ix_{prefix}audit_log_at", "at"),
            Index(f"ix_{prefix}audit_log_change_set", "change_set_id", "id"),
        )
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        at: Mapped[dt.datetime] = mapped_column(PRECISE_DATETIME)
        user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
        username: Mapped[str] = mapped_column(String(USERNAME_MAX))
        action: Mapped[str] = mapped_column(String(8))
        table_name: Mapped[str] = mapped_column(String(255))
        key_hash: Mapped[str] = mapped_column(String(64))
        row_key: Mapped[str] = mapped_column(LONG_TEXT)
        old_values: Mapped[str | None] = mapped_column(LONG_TEXT, nullable=True)
        new_values: Mapped[str | None] = mapped_column(LONG_TEXT, nullable=True)
        reverts_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
        state: Mapped[str] = mapped_column(String(10))
        # The change set (bulk change, revert of one) this entry belongs to; NULL for a
        # single-record edit.
        change_set_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    class ChangeSet(Base):
        """Many rows changed in one transaction (see webapp/changes/change_sets.py): who,
        when, what, how many rows, and where the rows came from (the view's filter, the
        chosen keys, the change set it reverts). Its rows' entries carry its id."""

        __tablename__ = f"{prefix}change_sets"
        __table_args__ = (Index(f"ix_{prefix}change_sets_at", "at"),)
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        at: Mapped[dt.datetime] = mapped_column(PRECISE_DATETIME)
        user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
        username: Mapped[str] = mapped_column(String(USERNAME_MAX))
        action: Mapped[str] = mapped_column(String(16))
        table_name: Mapped[str] = mapped_column(String(255))
        row_count: Mapped[int] = mapped_column(Integer, default=0)
        source: Mapped[str] = mapped_column(LONG_TEXT)
        reverts_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
        state: Mapped[str] = mapped_column(String(10))

    class SqlRun(Base):
        """One statement run in the SQL console: who, when, what, how long, how it ended."""

        __tablename__ = f"{prefix}sql_runs"
        __table_args__ = (Index(f"ix_{prefix}sql_runs_at", "at"),)
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        at: Mapped[dt.datetime] = mapped_column(PRECISE_DATETIME)
        user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
        username: Mapped[str] = mapped_column(String(USERNAME_MAX))
        sql_text: Mapped[str] = mapped_column(LONG_TEXT)
        action: Mapped[str] = mapped_column(String(8))  # run, explain, csv, json
        milliseconds: Mapped[int] = mapped_column(Integer)
        row_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
        error: Mapped[str | None] = mapped_column(Text, nullable=True)

    class SavedQuery(Base):
        """A named statement with `:name` parameters, private to its owner or shared."""

        __tablename__ = f"{prefix}saved_queries"
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        owner_id: Mapped[int] = mapped_column(Integer)
        owner_name: Mapped[str] = mapped_column(String(USERNAME_MAX))
        name: Mapped[str] = mapped_column(String(200))
        description: Mapped[str] = mapped_column(Text, default="")
        sql_text: Mapped[str] = mapped_column(LONG_TEXT)
        shared: Mapped[bool] = mapped_column(Boolean, default=False)
        created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
        updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now, onupdate=utc_now)

    return AccountModels(
        Base,
        SchemaVersion,
        User,
        LoginFailure,
        SignInToken,
        AuditEntry,
        ChangeSet,
        SqlRun,
        SavedQuery,
    )


def _create_first_tables(conn: Connection, models: AccountModels) -> None:
    tables = [
        models.user.__table__,
        models.login_failure.__table__,
        models.sign_in_token.__table__,
    ]
    models.base.metadata.create_all(conn, tables=tables, checkfirst=True)


def _create_audit_log(conn: Connection, models: AccountModels) -> None:
    models.base.metadata.create_all(conn, tables=[models.audit_entry.__table__], checkfirst=True)


def _add_change_sets(conn: Connection, models: AccountModels) -> None:
    """The change sets table, and the audit log's `change_set_id` column and its index
    (already there when step 2 created the log from today's model)."""
    models.base.metadata.create_all(conn, tables=[models.change_set.__table__], checkfirst=True)
    log = models.audit_entry.__table__
    inspector = inspect(conn)
    if "change_set_id" not in {column["name"] for column in inspector.get_columns(log.name)}:
        preparer = conn.dialect.identifier_preparer
        column_type = log.c.change_set_id.type.compile(dialect=conn.dialect)
        conn.execute(
            text(
                f"ALTER TABLE {preparer.format_table(log)} "
                f"ADD COLUMN {preparer.quote('change_set_id')} {column_type} NULL"
            )
        )
    present = {index["name"] for index in inspect(conn).get_indexes(log.name)}
    for index in log.indexes:
        if index.name not in present:
            index.create(conn)


def _create_console_tables(conn: Connection, models: AccountModels) -> None:
    tables = [models.sql_run.__table__, models.saved_query.__table__]
    models.base.metadata.create_all(conn, tables=tables, checkfirst=True)


# The ordered migration steps: step N brings the schema from version N-1 to N. Append new
# steps; never change one that has shipped.
MIGRATIONS: list[Callable[[Connection, AccountModels], None]] = [
    _create_first_tables,
    _create_audit_log,
    _add_change_sets,
    _create_console_tables,
]


def migrate(conn: Connection, models: AccountModels) -> int:
    """Apply the steps not yet recorded in `{prefix}schema_version`; return the version."""
    version_table = models.schema_version.__table__
    version_table.create(conn, checkfirst=True)
    done = set(conn.execute(select(version_table.c.version)).scalars())
    for number, step in enumerate(MIGRATIONS, start=1):
        if number in done:
            continue
        step(conn, models)
        conn.execute(version_table.insert().values(version=number, applied_at=utc_now()))
    return len(MIGRATIONS)
