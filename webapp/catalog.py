"""What the connected database holds: tables, views, columns, keys and the relations
between them, reflected once at startup. Identifiers used in SQL only ever come from here,
never from a request."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Column, Enum, MetaData, String, Table, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from .dialects import adapt_reflected_type
from .errors import NotFound
from .urls import UrlDecodeError, tilde_decode

log = logging.getLogger(__name__)

LABEL_NAMES = ("name", "title", "label", "full_name", "display_name", "username", "email")
LABEL_MAX_LENGTH = 500


@dataclass(frozen=True)
class Relation:
    """A foreign key, from the referencing table's columns to the referenced table's."""

    table: str
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]


@dataclass
class TableInfo:
    """One table or view as the app sees it."""

    name: str
    table: Table
    is_view: bool
    outgoing: list[Relation] = field(default_factory=list)
    incoming: list[Relation] = field(default_factory=list)
    configured_read_only: bool = False

    @property
    def read_only_reason(self) -> str | None:
        """Why rows of this table cannot be created, edited or deleted; None if they can."""
        if self.is_view:
            return "This is a view: its rows come from a query, so they cannot be edited here."
        if not self.primary_key:
            return "This table has no primary key, so a row cannot be addressed to edit it."
        if self.configured_read_only:
            return "This table is configured as read-only."
        return None

    @property
    def primary_key(self) -> tuple[Column, ...]:
        return tuple(self.table.primary_key.columns)

    @property
    def columns(self) -> list[Column]:
        return list(self.table.columns)

    def column(self, name: str) -> Column | None:
        return self.table.columns.get(name)

    @property
    def label_column(self) -> Column | None:
        """The column that names a row for people: one called name, title or label, else
        the first short text column."""
        key_names = {column.name for column in self.primary_key}
        candidates = [
            column
            for column in self.table.columns
            if column.name not in key_names
            and isinstance(column.type, String)
            and not isinstance(column.type, Enum)
            and (getattr(column.type, "length", None) or 10_000) <= LABEL_MAX_LENGTH
        ]
        for column in candidates:
            if column.name.lower() in LABEL_NAMES:
                return column
        return candidates[0] if candidates else None

    def relation_for(self, column_name: str) -> Relation | None:
        """The foreign key a column belongs to, preferring a single-column one."""
        matches = [rel for rel in self.outgoing if column_name in rel.columns]
        matches.sort(key=lambda rel: len(rel.columns))
        return matches[0] if matches else None


@dataclass
class Catalog:
    """The tables and views of one database, by name, plus those that failed to reflect."""

    tables: dict[str, TableInfo]
    unreadable: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[TableInfo]:
        return iter(sorted(self.tables.values(), key=lambda info: info.name.lower()))

    def __len__(self) -> int:
        return len(self.tables)

    def by_slug(self, slug: str) -> TableInfo:
        """The table a URL segment names, or NotFound."""
        try:
            name = tilde_decode(slug)
        except UrlDecodeError:
            raise NotFound("No such table.") from None
        info = self.tables.get(name)
        if info is None:
            raise NotFound(f"There is no table or view named {name!r}.")
        return info


async def reflect_catalog(engine: AsyncEngine, hidden_prefix: str | None = None) -> Catalog:
    """Reflect every table and view in the connection's default schema, except those whose
    name starts with `hidden_prefix` (the app's own tables), which appear nowhere."""
    async with engine.connect() as conn:
        return await conn.run_sync(_reflect, hidden_prefix)


def _is_hidden(name: str, hidden_prefix: str | None) -> bool:
    # Case-insensitive: MySQL may fold table names to lower case.
    return hidden_prefix is not None and name.lower().startswith(hidden_prefix.lower())


def _reflect(conn: Connection, hidden_prefix: str | None) -> Catalog:
    inspector = inspect(conn)
    table_names = [
        name for name in inspector.get_table_names() if not _is_hidden(name, hidden_prefix)
    ]
    view_names = {
        name for name in inspector.get_view_names() if not _is_hidden(name, hidden_prefix)
    }
    metadata = MetaData()
    unreadable: dict[str, str] = {}
    with warnings.catch_warnings():
        # Types SQLAlchemy does not know are reflected as NullType; the app shows them as text.
        warnings.simplefilter("ignore", SAWarning)
        try:
            metadata.reflect(bind=conn, views=True, only=[*table_names, *sorted(view_names)])
        except SQLAlchemyError:
            # One odd table must not hide the others: reflect one by one, note the failures.
            metadata = MetaData()
            for name in [*table_names, *sorted(view_names)]:
                try:
                    Table(name, metadata, autoload_with=conn)
                except SQLAlchemyError as exc:
                    log.warning("cannot reflect %r: %s", name, exc)
                    unreadable[name] = str(exc).splitlines()[0]
    for table in metadata.tables.values():
        for column in table.columns:
            adapt_reflected_type(column, conn.dialect)
    tables = {
        table.name: TableInfo(name=table.name, table=table, is_view=table.name in view_names)
        for table in metadata.tables.values()
        if table.schema is None and not _is_hidden(table.name, hidden_prefix)
    }
    for info in tables.values():
        for constraint in info.table.foreign_key_constraints:
            target = constraint.referred_table
            if target.schema is not None or target.name not in tables:
                continue
            relation = Relation(
                table=info.name,
                columns=tuple(constraint.column_keys),
                target=target.name,
                target_columns=tuple(element.column.name for element in constraint.elements),
            )
            info.outgoing.append(relation)
            tables[target.name].incoming.append(relation)
    return Catalog(tables=tables, unreadable=unreadable)
