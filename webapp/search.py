"""The table page's search box: `?q=words` matched across the table's search columns, with
LIKE wildcards in the input escaped; on MySQL a FULLTEXT index covering exactly those columns
answers instead of a scan."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Column, Enum, String, or_
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from .catalog import TableInfo
from .dialects import escape_like, fulltext_match, text_like
from .errors import BadRequest

MAX_SEARCH_LENGTH = 200
WORD = re.compile(r"\w+")


def search_columns(info: TableInfo) -> list[Column]:
    """The configured search columns; else the columns of a FULLTEXT index (so it is used);
    else every visible text column."""
    if info.options.search_columns:
        return [info.table.columns[name] for name in info.options.search_columns]
    visible = {column.name for column in info.columns}
    for index_columns in info.fulltext_indexes:
        if set(index_columns) <= visible:
            return [info.table.columns[name] for name in index_columns]
    return [
        column
        for column in info.columns
        if isinstance(column.type, String) and not isinstance(column.type, Enum)
    ]


def parse_search(raw: str | None) -> str:
    text = (raw or "").strip()
    if len(text) > MAX_SEARCH_LENGTH:
        raise BadRequest(f"A search may be at most {MAX_SEARCH_LENGTH} characters long.")
    return text


def search_condition(info: TableInfo, text: str, dialect: Dialect) -> ColumnElement[bool]:
    """Rows where any search column holds `text` (FULLTEXT: every word, as a word prefix)."""
    columns = search_columns(info)
    if not columns:
        raise BadRequest(f"{info.name!r} has no text columns to search.")
    names = {column.name for column in columns}
    if any(set(index) == names for index in info.fulltext_indexes):
        expressions: list[ColumnElement[Any]] = list(columns)
        matched = fulltext_match(expressions, WORD.findall(text), dialect)
        if matched is not None:
            return matched
    pattern = f"%{escape_like(text)}%"
    return or_(*(text_like(column, pattern, dialect) for column in columns))
