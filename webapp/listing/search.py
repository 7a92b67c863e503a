"""The table page's search box: `?q=words` matched across the table's search columns, with
LIKE wildcards in the input escaped; on MySQL, where a FULLTEXT index covers exactly those
columns, every word as the start of a word, found through the index or, on MariaDB, by a
bounded scan in the page's order when the words are frequent (see fulltext.py)."""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Enum, String, and_, or_
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from webapp.database.dialects import can_hold, escape_like, text_like
from webapp.listing import fulltext
from webapp.listing.counts import RowCount
from webapp.listing.fulltext import fulltext_match, scan_finds_the_same, word_prefixes
from webapp.listing.paging import Page
from webapp.schema.catalog import TableInfo
from webapp.ttl_cache import TtlCache
from webapp.web.errors import BadRequest

MAX_SEARCH_LENGTH = 200
WORD = re.compile(r"\w+")
# How long a search page that found nothing is reused for the same role and view: a word
# found nowhere is asked again at once (a reload, a second tab, a script), and reading a
# chunk of a big table again would find nothing again. This process's own writes forget
# them at once (database.request_session), other processes' after this.
SEARCH_MISS_SECONDS = 10.0


def search_miss_cache() -> TtlCache[Hashable, Page]:
    """The app's cache of search pages that found no row, by (role, view)."""
    return TtlCache(SEARCH_MISS_SECONDS, max_entries=1000)


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


@dataclass(frozen=True)
class Search:
    """The rows a search selects, as the condition that every count, facet and page uses;
    and, where a scan in index order can find exactly those rows without the FULLTEXT
    index, the condition for that scan."""

    condition: ColumnElement[bool]
    scan_condition: ColumnElement[bool] | None = None
    indexed: bool = False  # a FULLTEXT index answers it, without reading every row


def search_for(info: TableInfo, text: str, dialect: Dialect) -> Search:
    """Rows where any search column holds `text`; with a FULLTEXT index, where every word
    starts a word of some search column (see fulltext.py)."""
    columns = search_columns(info)
    if not columns:
        raise BadRequest(f"{info.name!r} has no text columns to search.")
    names = {column.name for column in columns}
    fits = all(can_hold(column, text, dialect) for column in columns)
    if fits and any(set(index) == names for index in info.fulltext_indexes):
        expressions: list[ColumnElement[Any]] = list(columns)
        words = WORD.findall(text)
        matched = fulltext_match(expressions, words, dialect)
        if matched is not None:
            prefixes = word_prefixes(expressions, words)
            scan = prefixes if scan_finds_the_same(words, dialect) else None
            return Search(and_(matched, prefixes), scan, indexed=True)
    pattern = f"%{escape_like(text)}%"
    return Search(or_(*(text_like(column, pattern, dialect) for column in columns)))


def scan_worth_trying(matches: RowCount | None, table_rows: RowCount | None, size: int) -> bool:
    """Whether a bounded scan is likely to fill a page of `size` before its bound, judged
    by the cached counts of the searched rows and of the table when both are known: a rare
    word is left to the FULLTEXT index, which answers it in a fraction of a millisecond,
    instead of first scanning in vain."""
    if matches is None or table_rows is None or matches.kind != "exact":
        return True
    if table_rows.kind not in ("exact", "estimate"):
        return True
    return matches.value * fulltext.SCAN_ROWS_EXAMINED >= (size + 1) * table_rows.value
