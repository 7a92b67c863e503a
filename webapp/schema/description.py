"""What the database itself reports about tables, for the schema pages: columns with their
types, nullability, defaults and generated expressions; the primary key, indexes, unique
and CHECK constraints, foreign keys out (and, from the catalog, in); and the database's own
DDL. Read fresh through SQLAlchemy's inspector on each request (one query per kind of
thing for all the tables asked for), with the role's rules applied: a hidden column, and
every index, constraint or key that names one, is left out."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.engine.reflection import ObjectKind
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.database.dialects import table_ddl
from webapp.schema.catalog import Catalog, TableInfo


@dataclass
class ColumnDescription:
    name: str
    type: str
    nullable: bool
    default: str | None
    generated: str | None  # the expression of a generated (computed) column
    primary_key: bool
    comment: str | None = None


@dataclass
class TableDescription:
    info: TableInfo
    columns: list[ColumnDescription] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    primary_key_name: str | None = None
    indexes: list[dict[str, Any]] = field(default_factory=list)
    unique_constraints: list[dict[str, Any]] = field(default_factory=list)
    check_constraints: list[dict[str, Any]] = field(default_factory=list)
    foreign_keys: list[dict[str, Any]] = field(default_factory=list)
    referenced_by: list[dict[str, Any]] = field(default_factory=list)
    ddl: str | None = None
    ddl_note: str | None = None


async def describe_tables(
    conn: AsyncConnection, catalog: Catalog, infos: Sequence[TableInfo], *, ddl: bool
) -> list[TableDescription]:
    """The descriptions of `infos` (tables of the role's `catalog`), with their DDL if
    `ddl`; read in one pass per schema."""
    return await conn.run_sync(_describe, catalog, list(infos), ddl)


def _describe(
    conn: Connection, catalog: Catalog, infos: list[TableInfo], ddl: bool
) -> list[TableDescription]:
    inspector = inspect(conn)
    by_schema: dict[str | None, list[str]] = {}
    for info in infos:
        by_schema.setdefault(info.table.schema, []).append(info.table.name)
    found: dict[str, dict[tuple[str | None, str], Any]] = {}
    for schema, names in by_schema.items():
        options: dict[str, Any] = {
            "schema": schema,
            "filter_names": names,
            "kind": ObjectKind.ANY,
        }
        readers: dict[str, Callable[..., Any]] = {
            "columns": inspector.get_multi_columns,
            "pk": inspector.get_multi_pk_constraint,
            "indexes": inspector.get_multi_indexes,
            "uniques": inspector.get_multi_unique_constraints,
            "checks": inspector.get_multi_check_constraints,
            "fks": inspector.get_multi_foreign_keys,
        }
        for what, read in readers.items():
            try:
                answer: dict[tuple[str | None, str], Any] = dict(read(**options))
            except NotImplementedError:
                answer = {}
            found.setdefault(what, {}).update(answer)
    visible = {(info.table.schema, info.table.name): info for info in catalog}
    out = []
    for info in infos:
        key = (info.table.schema, info.table.name)
        description = _one(info, {what: found[what].get(key) for what in found}, visible)
        if ddl:
            if info.options.hidden_columns:
                description.ddl_note = (
                    "The database's definition is not shown: it names columns hidden from "
                    "your role."
                )
            else:
                description.ddl = table_ddl(conn, info.table.schema, info.table.name, info.is_view)
        out.append(description)
    return out


def _one(
    info: TableInfo,
    found: dict[str, Any],
    visible: dict[tuple[str | None, str], TableInfo],
) -> TableDescription:
    hidden = set(info.options.hidden_columns)
    description = TableDescription(info)
    pk = found.get("pk") or {}
    pk_columns = list(pk.get("constrained_columns") or [])
    description.primary_key = pk_columns
    description.primary_key_name = pk.get("name")
    for column in found.get("columns") or []:
        if column["name"] in hidden:
            continue
        computed = column.get("computed")
        description.columns.append(
            ColumnDescription(
                name=column["name"],
                type=_type_text(column["type"]),
                nullable=bool(column.get("nullable", True)),
                default=None if computed else _text(column.get("default")),
                generated=_text(computed.get("sqltext")) if computed else None,
                primary_key=column["name"] in pk_columns,
                comment=column.get("comment"),
            )
        )

    def shown(names: Sequence[str | None]) -> bool:
        return not any(name in hidden for name in names if name is not None)

    for index in found.get("indexes") or []:
        names = list(index.get("column_names") or [])
        expressions = list(index.get("expressions") or [])
        parts = [
            name if name is not None else str(expressions[i]) if i < len(expressions) else "?"
            for i, name in enumerate(names)
        ]
        if shown(names) and not _names_any([str(e) for e in expressions], hidden):
            description.indexes.append(
                {"name": index.get("name"), "columns": parts, "unique": bool(index.get("unique"))}
            )
    for unique in found.get("uniques") or []:
        names = list(unique.get("column_names") or [])
        if shown(names):
            description.unique_constraints.append({"name": unique.get("name"), "columns": names})
    for check in found.get("checks") or []:
        sqltext = _text(check.get("sqltext")) or ""
        if not _names_any([sqltext], hidden):
            description.check_constraints.append({"name": check.get("name"), "sql": sqltext})
    for key in found.get("fks") or []:
        names = list(key.get("constrained_columns") or [])
        target = visible.get((key.get("referred_schema"), key.get("referred_table", "")))
        if target is None and key.get("referred_schema") is not None:
            target = visible.get((None, key.get("referred_table", "")))
        if not shown(names) or target is None:
            continue
        options = key.get("options") or {}
        description.foreign_keys.append(
            {
                "name": key.get("name"),
                "columns": names,
                "table": target.name,
                "target_columns": list(key.get("referred_columns") or []),
                "on_delete": options.get("ondelete"),
                "on_update": options.get("onupdate"),
            }
        )
    for relation in info.incoming:
        description.referenced_by.append(
            {
                "table": relation.table,
                "columns": list(relation.columns),
                "target_columns": list(relation.target_columns),
                "on_delete": relation.on_delete or None,
            }
        )
    return description


def _type_text(type_: Any) -> str:
    try:
        return str(type_)
    except Exception:  # a type SQLAlchemy reflects but cannot compile on its own
        return type(type_).__name__


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _names_any(texts: Sequence[str], names: set[str]) -> bool:
    """Whether any of `texts` (SQL) mentions one of `names` as a word."""
    for name in names:
        word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])", re.IGNORECASE)
        if any(word.search(text) for text in texts):
            return True
    return False
