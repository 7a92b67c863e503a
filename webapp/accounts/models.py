"""The app's own tables as SQLAlchemy ORM models, and the ordered steps that create and
migrate them. Table names carry a configurable prefix, so the models are built per prefix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Table, Text, inspect, select, text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import FromClause

from webapp.clock import utc_now

USERNAME_MAX = 150
# Microseconds on every backend (MySQL's plain DATETIME drops them), so entries sort exactly.
PRECISE_DATETIME = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# Whole rows as JSON: MySQL's TEXT stops at 64 KiB.
LONG_TEXT = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


class PrefixedModel:
    """What the type checker needs to know of every per-prefix model class: it is mapped to
    a table and built from keyword arguments (as the declarative base gives it)."""

    if TYPE_CHECKING:
        __table__: ClassVar[FromClause]

        def __init__(self, **kw: Any) -> None: ...


class SchemaVersionModel(PrefixedModel):
    """One row per migration step applied, so each process knows what is left to do."""

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class UserModel(PrefixedModel):
    """A person who may sign in. `session_version` changes at logout, disable and password
    change, which ends every cookie that carries the old one."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now, onupdate=utc_now)


class LoginFailureModel(PrefixedModel):
    """A failed sign-in, counted per subject (`user:NAME` or `address:IP`) in a window."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(200))
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime)


class SignInTokenModel(PrefixedModel):
    """A one-time sign-in link, stored as the SHA-256 of its secret."""

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AuditEntryModel(PrefixedModel):
    """One create, update or delete of a user's row (see webapp/changes/audit.py). Values are
    typed JSON (webapp/changes/audit_values.py); `key_hash` finds a record's history by index.
    `state` is `committed`, or `pending`/`failed` when the data lives in another
    database than this table (`auth.database_url`)."""

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


class ChangeSetModel(PrefixedModel):
    """Many rows changed in one transaction (see webapp/changes/change_sets.py): who,
    when, what, how many rows, and where the rows came from (the view's filter, the
    chosen keys, the change set it reverts). Its rows' entries carry its id."""

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


class SqlRunModel(PrefixedModel):
    """One statement run in the SQL console: who, when, what, how long, how it ended."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(PRECISE_DATETIME)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX))
    sql_text: Mapped[str] = mapped_column(LONG_TEXT)
    action: Mapped[str] = mapped_column(String(8))  # run, explain, csv, json
    milliseconds: Mapped[int] = mapped_column(Integer)
    row_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class SavedQueryModel(PrefixedModel):
    """A named statement with `:name` parameters, private to its owner or shared."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(Integer)
    owner_name: Mapped[str] = mapped_column(String(USERNAME_MAX))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    sql_text: Mapped[str] = mapped_column(LONG_TEXT)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now, onupdate=utc_now)


class ApiTokenModel(PrefixedModel):
    """A user's API token (webapp/accounts/api_tokens.py): only the SHA-256 of its secret is
    kept. It acts as its user, read-only when `read_only`; `revoked_at` ends it for good."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), default="")
    secret_hash: Mapped[str] = mapped_column(String(64))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


@dataclass(frozen=True)
class AccountModels:
    """The model classes for one table prefix."""

    base: type[DeclarativeBase]
    schema_version: type[SchemaVersionModel]
    user: type[UserModel]
    login_failure: type[LoginFailureModel]
    sign_in_token: type[SignInTokenModel]
    audit_entry: type[AuditEntryModel]
    change_set: type[ChangeSetModel]
    sql_run: type[SqlRunModel]
    saved_query: type[SavedQueryModel]
    api_token: type[ApiTokenModel]

    def table(self, model: type[PrefixedModel]) -> Table:
        """The Table a model is mapped to (declarative types it as any FROM clause)."""
        table = model.__table__
        assert isinstance(table, Table)
        return table


@cache
def account_models(prefix: str) -> AccountModels:
    """Model classes whose tables are named `{prefix}users` and so on (built once per prefix):
    the columns come from the models above, the table names and indexes from the prefix."""

    class Base(DeclarativeBase):
        pass

    class SchemaVersion(SchemaVersionModel, Base):
        __tablename__ = f"{prefix}schema_version"

    class User(UserModel, Base):
        __tablename__ = f"{prefix}users"

    class LoginFailure(LoginFailureModel, Base):
        __tablename__ = f"{prefix}login_failures"
        __table_args__ = (Index(f"ix_{prefix}login_failures_subject", "subject", "failed_at"),)

    class SignInToken(SignInTokenModel, Base):
        __tablename__ = f"{prefix}sign_in_tokens"

    class AuditEntry(AuditEntryModel, Base):
        __tablename__ = f"{prefix}audit_log"
        __table_args__ = (
            Index(f"ix_{prefix}audit_log_record", "key_hash", "id"),
            Index(f"ix_{prefix}audit_log_at", "at"),
            Index(f"ix_{prefix}audit_log_change_set", "change_set_id", "id"),
        )

    class ChangeSet(ChangeSetModel, Base):
        __tablename__ = f"{prefix}change_sets"
        __table_args__ = (Index(f"ix_{prefix}change_sets_at", "at"),)

    class SqlRun(SqlRunModel, Base):
        __tablename__ = f"{prefix}sql_runs"
        __table_args__ = (Index(f"ix_{prefix}sql_runs_at", "at"),)

    class SavedQuery(SavedQueryModel, Base):
        __tablename__ = f"{prefix}saved_queries"

    class ApiToken(ApiTokenModel, Base):
        __tablename__ = f"{prefix}api_tokens"
        __table_args__ = (Index(f"ix_{prefix}api_tokens_user", "user_id", "id"),)

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
        ApiToken,
    )


def _create_first_tables(conn: Connection, models: AccountModels) -> None:
    tables = [
        models.table(models.user),
        models.table(models.login_failure),
        models.table(models.sign_in_token),
    ]
    models.base.metadata.create_all(conn, tables=tables, checkfirst=True)


def _create_audit_log(conn: Connection, models: AccountModels) -> None:
    tables = [models.table(models.audit_entry)]
    models.base.metadata.create_all(conn, tables=tables, checkfirst=True)


def _add_change_sets(conn: Connection, models: AccountModels) -> None:
    """The change sets table, and the audit log's `change_set_id` column and its index
    (already there when step 2 created the log from today's model)."""
    models.base.metadata.create_all(conn, tables=[models.table(models.change_set)], checkfirst=True)
    log = models.table(models.audit_entry)
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
    tables = [models.table(models.sql_run), models.table(models.saved_query)]
    models.base.metadata.create_all(conn, tables=tables, checkfirst=True)


def _create_api_tokens(conn: Connection, models: AccountModels) -> None:
    tables = [models.table(models.api_token)]
    models.base.metadata.create_all(conn, tables=tables, checkfirst=True)


# The ordered migration steps: step N brings the schema from version N-1 to N. Append new
# steps; never change one that has shipped.
MIGRATIONS: list[Callable[[Connection, AccountModels], None]] = [
    _create_first_tables,
    _create_audit_log,
    _add_change_sets,
    _create_console_tables,
    _create_api_tokens,
]


def migrate(conn: Connection, models: AccountModels) -> int:
    """Apply the steps not yet recorded in `{prefix}schema_version`; return the version."""
    version_table = models.table(models.schema_version)
    version_table.create(conn, checkfirst=True)
    done = set(conn.execute(select(version_table.c.version)).scalars())
    for number, step in enumerate(MIGRATIONS, start=1):
        if number in done:
            continue
        step(conn, models)
        conn.execute(version_table.insert().values(version=number, applied_at=utc_now()))
    return len(MIGRATIONS)
