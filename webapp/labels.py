"""Labels for foreign-key values: the referenced row's label column, fetched with one
`WHERE key IN (...)` query per relation per page, never one query per row and never a JOIN
(which can send MariaDB's optimizer off sorting the whole big table)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .catalog import Catalog, Relation, TableInfo
from .decoding import Undecodable, fetch_rows
from .fields import show_value

LABEL_CHARS = 80


def label_source(catalog: Catalog, relation: Relation) -> tuple[Column, Column] | None:
    """The referenced key column and the label column of a single-column foreign key, or
    None when the relation has no label to show."""
    if len(relation.columns) != 1:
        return None
    target = catalog.tables.get(relation.target)
    if target is None:
        return None
    label = target.label_column
    key = target.table.columns.get(relation.target_columns[0])
    if label is None or key is None or label is key:
        return None
    return key, label


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
    label_text = func.substr(label, 1, LABEL_CHARS + 1).label("label")
    statement = select(key, label_text).where(key.in_(wanted))
    labels: dict[Any, str] = {}
    for key_value, text in await fetch_rows(conn, statement, [key, label_text]):
        if text is None or text == "" or isinstance(text, Undecodable):
            continue
        shown = show_value(text, preview=False).text
        labels[key_value] = shown if len(shown) <= LABEL_CHARS else shown[:LABEL_CHARS] + "…"
    return labels


async def page_labels(
    conn: AsyncConnection, catalog: Catalog, info: TableInfo, column_values: dict[str, list[Any]]
) -> dict[str, dict[Any, str]]:
    """Labels for every labelled foreign-key column of a page, by column name, given the
    page's values of each such column."""
    out: dict[str, dict[Any, str]] = {}
    for name, values in column_values.items():
        relation = info.relation_for(name)
        if relation is not None:
            out[name] = await load_labels(conn, catalog, relation, values)
    return out


def labelled_columns(catalog: Catalog, info: TableInfo) -> list[str]:
    """The listed foreign-key columns whose referenced rows have a label to show."""
    listed = {column.name for column in info.list_columns}
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
