"""MySQL's FULLTEXT word search, and the bounded scan in index order that finds the same rows
on MariaDB without the index. InnoDB's FULLTEXT search collects every matching row before
it can sort or stop, so a frequent word costs as much as all its matches whatever the page
size; a scan in key order that stops at a page's last match costs what the page needs. A
regular expression that accepts no row the index would not return makes the two plans give
the same rows: every plan runs it, and the FULLTEXT one runs the MATCH as well."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Table, and_, or_
from sqlalchemy.dialects.mysql import match as mysql_match
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from webapp.database.dialects import backend_of, is_mariadb

# InnoDB's defaults: innodb_ft_min_token_size, innodb_ft_max_token_size (in characters) and
# its default stopword list. Shorter and longer words, and stopwords, are not in the index.
FULLTEXT_MIN_WORD = 3
FULLTEXT_MAX_WORD = 84
INNODB_STOPWORDS = frozenset(
    [
        "a",
        "about",
        "an",
        "are",
        "as",
        "at",
        "be",
        "by",
        "com",
        "de",
        "en",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "la",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "who",
        "will",
        "with",
        "und",
        "www",
    ]
)
# A bounded scan examines at most this many rows: about what a FULLTEXT search of a common
# word costs (bench/search_plans.py compares the two plans). A page of 50 needs a word in at
# least one row in 400 to fill within it: near where the two plans cost the same.
SCAN_ROWS_EXAMINED = 20_000

# The ASCII characters InnoDB's FULLTEXT parser splits words at: all but letters, digits
# and `_`. Every other character counts as part of a word here, which is stricter than
# InnoDB (it also splits at non-ASCII punctuation): the expression may miss a row the index
# finds, never the other way round. Written as escapes so that PCRE reads them the same way
# whether or not it runs in UTF mode (which depends on the column's character set).
_SPLIT = r"[\x00-\x2F\x3A-\x40\x5B-\x5E\x60\x7B-\x7F]"
_SCANNABLE_WORD = re.compile(r"[0-9A-Za-z_]+")


def fulltext_match(
    columns: Sequence[ColumnElement[Any]], words: Sequence[str], dialect: Dialect
) -> ColumnElement[bool] | None:
    """A FULLTEXT search for rows holding every word (as a word prefix), or None where the
    backend has no such index or the index cannot answer: InnoDB does not index words shorter
    than its minimum token length (3) or its stopwords. Only words reach the boolean-mode
    query, never operators."""
    if backend_of(dialect) != "mysql" or not words:
        return None
    if any(len(word) < FULLTEXT_MIN_WORD or word.lower() in INNODB_STOPWORDS for word in words):
        return None
    against = " ".join(f"+{word}*" for word in words)
    return mysql_match(*columns, against=against).in_boolean_mode()


def word_prefixes(
    columns: Sequence[ColumnElement[Any]], words: Sequence[str]
) -> ColumnElement[bool]:
    """Rows where every word starts a word of some column, as InnoDB splits words, that is
    no longer than InnoDB indexes: the rows of `fulltext_match` that a scan can find too.
    Case follows the columns' collation, as it does for MATCH; accents count as written."""
    return and_(
        *(
            or_(*(column.regexp_match(_prefix_pattern(word)) for column in columns))
            for word in words
        )
    )


def scan_finds_the_same(words: Sequence[str], dialect: Dialect) -> bool:
    """Whether a bounded scan with `word_prefixes` finds exactly the rows that MATCH and
    `word_prefixes` find together: MariaDB (for LIMIT ... ROWS EXAMINED), and words the
    expression cannot find where the index does not. That excludes words with non-ASCII
    characters (whether InnoDB counts them as letters, and how the collation folds them,
    varies), words longer than InnoDB indexes, and beginnings of stopwords ("whe" would
    find "where", which the index leaves out)."""
    if not is_mariadb(dialect):
        return False
    return all(
        _SCANNABLE_WORD.fullmatch(word)
        and FULLTEXT_MIN_WORD <= len(word) <= FULLTEXT_MAX_WORD
        and not any(stopword.startswith(word.lower()) for stopword in INNODB_STOPWORDS)
        for word in words
    )


def bounded_scan(statement: Select[Any], table: Table, index: str) -> Select[Any]:
    """`statement` (ordered as `index` orders its entries) made to read `table` through
    `index` alone, so that rows arrive in order and no sort can happen, and to stop after
    examining SCAN_ROWS_EXAMINED rows, returning the rows found by then (MariaDB)."""
    quoted = "`" + index.replace("`", "``").replace("%", "%%") + "`"
    return statement.with_hint(table, f"FORCE INDEX ({quoted})").suffix_with(
        f"ROWS EXAMINED {SCAN_ROWS_EXAMINED}"
    )


def _prefix_pattern(word: str) -> str:
    """`word` at the start of a word of at most FULLTEXT_MAX_WORD characters."""
    rest = max(FULLTEXT_MAX_WORD - len(word), 0)
    return f"(^|{_SPLIT}){re.escape(word)}[^{_SPLIT[1:-1]}]{{0,{rest}}}({_SPLIT}|$)"
