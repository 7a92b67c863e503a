"""Labels for foreign-key values: the referenced row's label columns (label_choice). A
table page selects them with its rows, one correlated scalar subquery per labelled column
(a primary-key lookup per row shown, in the same statement); other pages fetch them with
one `WHERE key IN (...)` query per relation. Never one query per row, and never a JOIN
(which can send MariaDB's optimizer off sorting the whole big table)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, func, or_, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from webapp.database.decoding import Undecodable, fetch_rows
from webapp.database.dialects import can_hold, escape_like, text_like
from webapp.schema.catalog import Catalog, Relation, TableInfo
from webapp.values import show_value

LABEL_CHARS = 80


def label_source(catalog: Catalog, relation: Relation) -> tuple[Column, tuple[Column, ...]] | None:
    """The referenced key column and the label columns of a single-column foreign key, or
    None when the relation has no label to show."""
    if len(relation.columns) != 1:
        return None
    target = catalog.tables.get(relation.target)
    if target is None:
        return None
    label = target.label_columns
    key = target.table.columns.get(relation.target_columns[0])
    if not label or key is None or (len(label) == 1 and label[0] is key):
        return None
    return key, label


def row_label(columns: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    """The text that names a row, from its label columns: one column as it is; several (a
    first and a last name) joined by a space, a NULL part left out."""
    if len(columns) == 1:
        return columns[0]
    joined: ColumnElement[Any] = func.coalesce(columns[0], "")
    for column in columns[1:]:
        joined = joined + " " + func.coalesce(column, "")
    return func.trim(joined)


def label_contains(
    columns: Sequence[ColumnElement[Any]], text: str, dialect: Dialect
) -> ColumnElement[bool]:
    """Rows whose label, or one of its parts, holds `text` anywhere, ignoring case
    (dialects.text_like): a picker finds "García" from "arc" as a person would expect."""
    pattern = "%" + escape_like(text) + "%"
    parts = [text_like(column, pattern, dialect) for column in columns]
    if len(columns) == 1:
        return parts[0]
    if not all(can_hold(column, text, dialect) for column in columns):
        return or_(*parts)  # their joined text holds no more characters than they do
    return or_(text_like(row_label(columns), pattern, dialect), *parts)


def row_label_text(info: TableInfo, row: Mapping[str, Any]) -> str | None:
    """The label of a row already fetched whole (a record page), as row_label reads it."""
    parts = [row.get(column.name) for column in info.label_columns]
    if not all(part is None or isinstance(part, str) for part in parts):
        return None
    text = " ".join(part for part in parts if part)
    return text if text.strip() else None


async def load_labels(
    conn: AsyncConnection, catalog: Catalog, relation: Relation, values: Iterable[Any]
) -> dict[Any, str]:
    """The label of each referenced row among `values`, by key value; rows without a label
    (NULL or empty) are left out."""
    source = label_source(catalog, relation)
    wanted = sorted(
        {value for value in values if value is not None and not isinstance(value, Undecodable)},
        key=repr,
    )
    if source is None or not wanted:
        return {}
    key, label = source
    cut_label = _cut(row_label(label)).label("label")
    statement = select(key, cut_label).where(key.in_(wanted))
    labels: dict[Any, str] = {}
    for key_value, text in await fetch_rows(conn, statement, [key, cut_label]):
        shown = label_text(text)
        if shown is not None:
            labels[key_value] = shown
    return labels


def label_expressions(
    catalog: Catalog, info: TableInfo, listed: Iterable[Column] | None = None
) -> dict[str, ColumnElement[Any]]:
    """For each labelled foreign-key column of the table page (of `listed`, default the
    table's list), by column name: the label of the referenced row, cut to LABEL_CHARS + 1
    characters, as a scalar subquery correlated with the page's row (the referenced table
    aliased, so a table may point at itself)."""
    return _label_subqueries(catalog, info, labelled_columns(catalog, info, listed))


def record_label_expressions(catalog: Catalog, info: TableInfo) -> dict[str, ColumnElement[Any]]:
    """label_expressions for every foreign-key column of the table, listed or not: what a
    record page selects with its row, so that its labels cost no statement of their own."""
    names = [column.name for column in info.columns if info.relation_for(column.name)]
    return _label_subqueries(catalog, info, names)


def _label_subqueries(
    catalog: Catalog, info: TableInfo, names: Iterable[str]
) -> dict[str, ColumnElement[Any]]:
    out: dict[str, ColumnElement[Any]] = {}
    for name in names:
        relation = info.relation_for(name)
        source = label_source(catalog, relation) if relation is not None else None
        if source is None:
            continue
        key, label = source
        target = key.table.alias(f"label_{len(out)}")
        out[name] = (
            select(_cut(row_label([target.c[column.name] for column in label])))
            .where(target.c[key.name] == info.table.c[name])
            .scalar_subquery()
            .label(f"label_{len(out)}")
        )
    return out


def _cut(label: ColumnElement[Any]) -> ColumnElement[Any]:
    """A label's first LABEL_CHARS + 1 characters: enough to know it was cut."""
    return func.substr(label, 1, LABEL_CHARS + 1)


def label_text(value: Any) -> str | None:
    """How a fetched label reads in a link: None for no label (NULL, empty, undecodable),
    else the text cut to LABEL_CHARS with an ellipsis."""
    if value is None or value == "" or isinstance(value, Undecodable):
        return None
    shown = value if type(value) is str else show_value(value, False).text
    return shown if len(shown) <= LABEL_CHARS else shown[:LABEL_CHARS] + "…"


def labelled_columns(
    catalog: Catalog, info: TableInfo, columns: Iterable[Column] | None = None
) -> list[str]:
    """The listed foreign-key columns whose referenced rows have a label to show."""
    listed = {column.name for column in (info.list_columns if columns is None else columns)}
    out = []
    for relation in info.outgoing:
        name = relation.columns[0]
        if (
            name in listed
            and info.relation_for(name) is relation
            and label_source(catalog, relation) is not None
        ):
            out.append(name)
    return out
