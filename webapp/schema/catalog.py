"""What the connected database holds: tables, views, columns, keys and the relations
between them, reflected at startup and again when the database's schema changes
(schema.watch). Identifiers used in SQL only ever come from here, never from a request."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Index,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.database.dialects import (
    adapt_reflected_type,
    browsable_schemas,
    column_distinct_counts,
    materialized_view_names,
    partition_names,
    reflected_column_name,
    scan_orders,
    unparsed_foreign_keys,
    unreadable_relations,
)
from webapp.schema.label_choice import choose_label_columns, repeats_a_lot
from webapp.settings import ROLES, TableOptions
from webapp.values import kind_for
from webapp.web.errors import NotFound
from webapp.web.urls import QualifiedName, UrlDecodeError, decode_table_slug

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Relation:
    """A foreign key, from the referencing table's columns to the referenced table's."""

    table: str
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    # The key's ON DELETE action as reflected ("" when not known: treated as refusing).
    on_delete: str = field(default="", compare=False)

    @property
    def refuses_delete(self) -> bool:
        """Whether the database refuses to delete a row this key's rows still point at
        (rather than deleting them too or clearing their key)."""
        return self.on_delete.upper() not in ("CASCADE", "SET NULL", "SET DEFAULT")


@dataclass
class TableInfo:
    """One table or view as the app sees it."""

    name: str
    table: Table
    is_view: bool
    outgoing: list[Relation] = field(default_factory=list)
    incoming: list[Relation] = field(default_factory=list)
    options: TableOptions = field(default_factory=TableOptions)
    # Columns that lead a B-tree index (primary key and unique constraints included): an
    # order on one of them, with the key as tie-breaker, can be paged by keyset.
    indexed_columns: frozenset[str] = frozenset()
    # The column sets of MySQL FULLTEXT indexes, which MATCH ... AGAINST can use.
    fulltext_indexes: tuple[tuple[str, ...], ...] = ()
    # MariaDB InnoDB: column orders (by name) an index keeps its entries in, with that
    # index's name, for a scan that must read rows in order (dialects.scan_orders).
    scan_orders: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    # Columns the database's statistics show repeating a lot: never a row's label.
    repetitive_columns: frozenset[str] = frozenset()
    _columns_cache: tuple[TableOptions, tuple[Column, ...], tuple[Column, ...]] | None = field(
        default=None, repr=False, compare=False
    )
    # What the table page derives from the options alone (statement columns, row writer),
    # by options and a key of the caller's; see `derived`.
    _derived: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def schema(self) -> str | None:
        """The schema the table is in; None for the connection's default one."""
        return self.table.schema

    @property
    def configured_read_only(self) -> bool:
        return self.options.read_only

    @property
    def read_only_reason(self) -> str | None:
        """Why no one may create, edit or delete rows of this table as this catalog's role
        sees it, or None: the table's fact, one of the two that the write gate
        (webapp.accounts.roles.write_refusal) combines with the user's role."""
        if self.is_view:
            return "This is a view: its rows come from a query, so they cannot be edited here."
        if not self.primary_key:
            return "This table has no primary key, so a row cannot be addressed to edit it."
        if self.configured_read_only:
            return "This table is configured as read-only."
        if self.options.read_only_for_role:
            return f"This table is read-only for your role ({self.options.read_only_for_role})."
        return None

    @property
    def read_only_columns(self) -> frozenset[str]:
        """Visible columns whose values are shown but never changed through the app."""
        return self.options.read_only_columns

    @cached_property
    def primary_key(self) -> tuple[Column, ...]:
        return tuple(self.table.primary_key.columns)

    @property
    def columns(self) -> list[Column]:
        """Every column a user may see, filter, sort or search on: all but the hidden ones."""
        return list(self._column_lists()[0])

    @property
    def list_columns(self) -> list[Column]:
        """The columns the table page lists, in the configured order (default: all)."""
        return list(self._column_lists()[1])

    def _column_lists(self) -> tuple[tuple[Column, ...], tuple[Column, ...]]:
        """Visible and listed columns, worked out once per options (every page asks)."""
        options = self.options
        cached = self._columns_cache
        if cached is not None and cached[0] is options:
            return cached[1], cached[2]
        hidden = options.hidden_columns
        visible = tuple(column for column in self.table.columns if column.name not in hidden)
        listed = (
            tuple(self.table.columns[name] for name in options.columns)
            if options.columns
            else visible
        )
        self._columns_cache = (options, visible, listed)
        return visible, listed

    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        """`make()`, worked out once per options and `key`: the table page builds its
        statement columns and row writer from the catalog alone, not on every request."""
        cached = self._derived.get(key)
        if cached is not None and cached[0] is self.options:
            return cached[1]
        value = make()
        self._derived[key] = (self.options, value)
        return value

    def column(self, name: str) -> Column | None:
        """A visible column by name; None for an unknown or hidden one."""
        if name in self.options.hidden_columns:
            return None
        return self.table.columns.get(name)

    @property
    def label_columns(self) -> tuple[Column, ...]:
        """The columns whose values, joined by a space, name a row for people: the
        configured one, else those label_choice picks; () for none."""
        if self.options.label_column:
            return (self.table.columns[self.options.label_column],)
        return self.derived("label_columns", self._chosen_label_columns)

    def _chosen_label_columns(self) -> tuple[Column, ...]:
        excluded = {column.name for column in self.primary_key}
        for relation in self.outgoing:
            excluded.update(relation.columns)
        return choose_label_columns(
            self.table.name, self.columns, excluded, self.repetitive_columns
        )

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
            schema, table = decode_table_slug(slug)
        except UrlDecodeError:
            raise NotFound("No such table.") from None
        if schema is None:
            info = self.tables.get(table)
            if info is None or isinstance(info.name, QualifiedName):
                raise NotFound(f"There is no table or view named {table!r}.")
            return info
        for quoted in (False, True):
            info = self.tables.get(QualifiedName(schema, table, quoted=quoted))
            if info is not None and info.schema == schema and info.table.name == table:
                return info
        raise NotFound(f"There is no table or view named {table!r} in schema {schema!r}.")


class CatalogOptionsError(ValueError):
    """`tables:` in the config names something the database does not have."""


def copy_catalog(catalog: Catalog) -> Catalog:
    """A catalog of its own over the same reflected tables, so options (and the tables and
    relations they remove) can differ per role."""
    return Catalog(
        tables={
            name: replace(
                info,
                outgoing=list(info.outgoing),
                incoming=list(info.incoming),
                _columns_cache=None,
                _derived={},
            )
            for name, info in catalog.tables.items()
        },
        unreadable=dict(catalog.unreadable),
    )


def role_catalogs(catalog: Catalog, options: Mapping[str, TableOptions]) -> dict[str, Catalog]:
    """One catalog per role, from the freshly reflected `catalog` (left as it is), with each
    table's options narrowed by that role's rules: everything that reads the catalog (pages,
    links, filters, sorting, search, facets, lookups, forms) then sees only what the role may.
    Check `options` with apply_table_options first: its errors name the key at fault."""
    out = {}
    for role in ROLES:
        narrowed = copy_catalog(catalog)
        apply_table_options(
            narrowed, {name: table.for_role(role) for name, table in options.items()}
        )
        out[role] = narrowed
    return out


def str_type(type_: Any) -> str:
    """A column's type as the pages name it; a type SQLAlchemy cannot print reads as its
    class's name."""
    try:
        return str(type_)
    except Exception:
        return type(type_).__name__


def hidden_names(info: TableInfo, catalog: Catalog) -> frozenset[str]:
    """Names a page about `info` must not show for `catalog`'s role: the reflected tables
    the role does not see, and `info`'s hidden columns (database messages may name them)."""
    tables = {name for name in info.table.metadata.tables if name not in catalog.tables}
    visible = {column.name for column in info.columns}
    columns = {column.name for column in info.table.columns if column.name not in visible}
    return frozenset(tables | columns)


def apply_table_options(catalog: Catalog, options: Mapping[str, TableOptions]) -> None:
    """Attach each table's configured options, checking every name against the database;
    then drop hidden tables, and relations through hidden columns, from the catalog."""
    for name, table_options in options.items():
        info = catalog.tables.get(name)
        if info is None:
            raise CatalogOptionsError(f"tables.{name}: there is no table or view named {name!r}")
        _check_options(info, table_options)
        info.options = table_options
    hidden = {name for name, info in catalog.tables.items() if info.options.hidden}
    for name in hidden:
        del catalog.tables[name]
    for info in catalog.tables.values():
        info.outgoing = [rel for rel in info.outgoing if _relation_visible(catalog, rel)]
        info.incoming = [rel for rel in info.incoming if _relation_visible(catalog, rel)]


def _check_options(info: TableInfo, options: TableOptions) -> None:
    prefix = f"tables.{info.name}"
    known = set(info.table.columns.keys())
    named: list[tuple[str, Collection[str]]] = [
        ("columns", options.columns),
        ("hidden_columns", sorted(options.hidden_columns)),
        ("search_columns", options.search_columns),
        ("facet_columns", options.facet_columns),
        ("label_column", [options.label_column] if options.label_column else []),
        ("sort", [options.sort.removeprefix("-")] if options.sort else []),
        ("read_only_columns", sorted(options.read_only_columns)),
    ]
    for key, names in named:
        for name in names:
            if name not in known:
                raise CatalogOptionsError(f"{prefix}.{key}: {info.name!r} has no column {name!r}")
            if key != "hidden_columns" and name in options.hidden_columns:
                raise CatalogOptionsError(f"{prefix}.{key}: {name!r} is a hidden column")
    for column in info.primary_key:
        if column.name in options.hidden_columns:
            raise CatalogOptionsError(
                f"{prefix}.hidden_columns: {column.name!r} is part of the primary key, "
                "which addresses each record, so it cannot be hidden"
            )
    for role, rules in options.roles.items():
        for key, names in (
            ("hidden_columns", rules.hidden_columns),
            ("read_only_columns", rules.read_only_columns),
        ):
            for name in sorted(names):
                if name not in known:
                    raise CatalogOptionsError(
                        f"{prefix}.roles.{role}.{key}: {info.name!r} has no column {name!r}"
                    )
        for column in info.primary_key:
            if column.name in rules.hidden_columns:
                raise CatalogOptionsError(
                    f"{prefix}.roles.{role}.hidden_columns: {column.name!r} is part of the "
                    "primary key, which addresses each record, so it cannot be hidden"
                )
    text_names = [("search_columns", name) for name in options.search_columns]
    if options.label_column:
        text_names.append(("label_column", options.label_column))
    for key, name in text_names:
        if not isinstance(info.table.columns[name].type, String):
            raise CatalogOptionsError(f"{prefix}.{key}: {name!r} is not a text column")


def _relation_visible(catalog: Catalog, relation: Relation) -> bool:
    child = catalog.tables.get(relation.table)
    target = catalog.tables.get(relation.target)
    if child is None or target is None:
        return False
    return not (
        set(relation.columns) & child.options.hidden_columns
        or set(relation.target_columns) & target.options.hidden_columns
    )


async def reflect_catalog(engine: AsyncEngine, hidden_prefix: str | None = None) -> Catalog:
    """Reflect every table and view in the connection's default schema, and on PostgreSQL in
    its other schemas (named `schema.table`, see urls.QualifiedName), except those whose name
    starts with `hidden_prefix` (the app's own tables), which appear nowhere."""
    async with engine.connect() as conn:
        return await conn.run_sync(_reflect, hidden_prefix)


def _is_hidden(name: str, hidden_prefix: str | None) -> bool:
    # Case-insensitive: MySQL may fold table names to lower case.
    return hidden_prefix is not None and name.lower().startswith(hidden_prefix.lower())


def _reflect(conn: Connection, hidden_prefix: str | None) -> Catalog:
    wanted: dict[tuple[str | None, str], bool] = {}  # (schema, name) -> is a view
    unreadable: dict[str, str] = {}
    reflected: list[Table] = []
    for schema in [None, *browsable_schemas(conn)]:
        names, view_names = _schema_names(conn, schema, hidden_prefix)
        for name, reason in unreadable_relations(conn, schema).items():
            if name in names:
                names.remove(name)
                unreadable[name if schema is None else f"{schema}.{name}"] = reason
        wanted.update({(schema, name): name in view_names for name in names})
        reflected.extend(_reflect_schema(conn, schema, names, unreadable))
    for table in reflected:
        for column in table.columns:
            adapt_reflected_type(column, conn.dialect)
            kind_for(column, conn.dialect)  # made once, with the database's dialect
    orders = scan_orders(conn)
    distinct_counts = column_distinct_counts(conn)
    tables: dict[str, TableInfo] = {}
    for table in reflected:
        if (table.schema, table.name) not in wanted:
            continue
        catalog_name = _catalog_name(table, tables)
        if catalog_name is None:
            unreadable[f"{table.schema}.{table.name}"] = "its name is another table's"
            continue
        tables[catalog_name] = TableInfo(
            name=catalog_name,
            table=table,
            is_view=wanted[(table.schema, table.name)],
            indexed_columns=_indexed_columns(table),
            fulltext_indexes=_fulltext_indexes(table),
            scan_orders=orders.get(table.name, {}) if table.schema is None else {},
            repetitive_columns=frozenset(
                column
                for column, counts in distinct_counts.get((table.schema, table.name), {}).items()
                if repeats_a_lot(*counts)
            ),
        )
    _link(tables, conn)
    return Catalog(tables=tables, unreadable=unreadable)


def _link(tables: Mapping[str, TableInfo], conn: Connection) -> None:
    """Fill in each table's outgoing and incoming relations from its foreign keys, found by
    the (schema, table) they name, so that they link across schemas too."""
    by_table = {(info.table.schema, info.table.name): info for info in tables.values()}
    found: list[tuple[TableInfo, tuple[str, ...], TableInfo | None, tuple[str, ...], str]] = []
    for info in tables.values():
        for constraint in info.table.foreign_key_constraints:
            tokens = [element.target_tokens for element in constraint.elements]
            target = by_table.get((tokens[0].schema, tokens[0].table_name))
            # By name, not `element.column`: a MySQL name reflected with doubled backticks
            # resolves to no column until it is read as the database means it. (A reflected
            # key always names its columns: `or ""` only tells the type checker so.)
            target_columns = tuple(
                reflected_column_name(token.column_name or "", conn.dialect) for token in tokens
            )
            on_delete = constraint.ondelete or ""
            found.append((info, tuple(constraint.column_keys), target, target_columns, on_delete))
    for table, columns, target_name, target_columns in unparsed_foreign_keys(conn):
        child = by_table.get((None, table))
        if child is not None:
            found.append((child, columns, by_table.get((None, target_name)), target_columns, ""))
    for info, columns, target, target_columns, on_delete in found:
        if target is None or not all(name in target.table.columns for name in target_columns):
            continue
        relation = Relation(
            table=info.name,
            columns=columns,
            target=target.name,
            target_columns=target_columns,
            on_delete=on_delete,
        )
        if relation in info.outgoing:
            continue  # read both ways
        info.outgoing.append(relation)
        target.incoming.append(relation)


def _catalog_name(table: Table, tables: Mapping[str, TableInfo]) -> str | None:
    """The name the catalog knows `table` by: its own in the default schema, else
    `schema.table`, quoted if a table already has that name; None if both are taken."""
    if table.schema is None:
        return table.name
    for quoted in (False, True):
        name = QualifiedName(table.schema, table.name, quoted=quoted)
        if name not in tables:
            return name
    return None


def _schema_names(
    conn: Connection, schema: str | None, hidden_prefix: str | None
) -> tuple[list[str], set[str]]:
    """The tables (a partitioned table once, not its partitions) and views of one schema to
    reflect, with the views among them."""
    inspector = inspect(conn)
    partitions = partition_names(conn, schema)
    table_names = [
        name
        for name in inspector.get_table_names(schema)
        if name not in partitions and not _is_hidden(name, hidden_prefix)
    ]
    view_names = {
        name
        for name in [
            *inspector.get_view_names(schema),
            *materialized_view_names(conn, schema),
        ]
        if not _is_hidden(name, hidden_prefix)
    }
    return [*table_names, *sorted(view_names)], view_names


def _reflect_schema(
    conn: Connection, schema: str | None, names: list[str], unreadable: dict[str, str]
) -> list[Table]:
    """The named tables and views of one schema, each in the schema's own MetaData (which
    keys a table by `schema.name`, as it would a default-schema table named so). Foreign
    keys are kept by name, unresolved: relations are made from those names."""
    metadata = MetaData()

    @event.listens_for(metadata, "column_reflect")
    def _real_name(_inspector: Any, _table: Table, column_info: dict[str, Any]) -> None:
        column_info["name"] = reflected_column_name(column_info["name"], conn.dialect)

    with warnings.catch_warnings():
        # Types SQLAlchemy does not know are reflected as NullType; the app shows them as text.
        warnings.simplefilter("ignore", SAWarning)
        try:
            metadata.reflect(bind=conn, schema=schema, views=True, only=names, resolve_fks=False)
        except SQLAlchemyError:
            # One odd table must not hide the others: reflect one by one, note the failures.
            for name in names:
                try:
                    Table(name, metadata, schema=schema, autoload_with=conn, resolve_fks=False)
                except SQLAlchemyError as exc:
                    log.warning("cannot reflect %r: %s", name, exc)
                    shown = name if schema is None else f"{schema}.{name}"
                    unreadable[shown] = str(exc).splitlines()[0]
    return [table for table in metadata.tables.values() if table.schema == schema]


def _is_fulltext(index: Index) -> bool:
    return str(index.dialect_options["mysql"].get("prefix") or "").upper() == "FULLTEXT"


def _indexed_columns(table: Table) -> frozenset[str]:
    leading: set[str] = set()
    if table.primary_key.columns:
        leading.add(next(iter(table.primary_key.columns)).name)
    for index in table.indexes:
        expressions = list(index.expressions)
        if not expressions or _is_fulltext(index):
            continue
        first = expressions[0]
        if isinstance(first, Column):
            leading.add(first.name)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.columns:
            leading.add(next(iter(constraint.columns)).name)
    return frozenset(leading)


def _fulltext_indexes(table: Table) -> tuple[tuple[str, ...], ...]:
    return tuple(
        tuple(column.name for column in index.columns)
        for index in table.indexes
        if _is_fulltext(index)
    )
