"""URLs for tables and records whose names and keys may hold any character.

Names and key values are tilde-encoded (as Datasette does): letters, digits, `_` and `-` stay,
a space becomes `+`, every other byte of the UTF-8 form becomes `~XX`. The result holds no
`/`, `%` or `.`, so it survives proxies that decode `%2F`; the empty string is a lone `~`.
A composite key joins its parts with `,`, which never occurs inside an encoded part.

A table outside the database's default schema is named in a URL by its schema and its name,
each encoded, joined by `:` (`/t/sales:orders`): a colon never occurs in an encoded part, so
this never meets a default-schema table's URL (whose name may hold dots or colons, encoded),
nor the `.csv`/`.json` suffix of a download."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import urlencode

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
EMPTY = "~"
_ENCODED = re.compile(r"^(?:[A-Za-z0-9_\-+]|~[0-9A-F]{2})*$")


SCHEMA_SEPARATOR = ":"


class UrlDecodeError(ValueError):
    """A path segment that no name or key could have produced."""


class QualifiedName(str):
    """The catalog's name of a table outside the default schema: reads `schema.table` (in
    pages, the config and the activity log), or `"schema"."table"` when a table of the
    default schema already has that name, and keeps both parts, so that its URL names each
    of them unambiguously."""

    schema: str
    table: str

    def __new__(cls, schema: str, table: str, *, quoted: bool = False) -> QualifiedName:
        text = f"{_quoted(schema)}.{_quoted(table)}" if quoted else f"{schema}.{table}"
        name = super().__new__(cls, text)
        name.schema = schema
        name.table = table
        return name


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tilde_encode(value: str) -> str:
    if value == "":
        return EMPTY  # a segment must not be empty, or the route would not match
    if value.isascii() and value.isalnum():
        return value  # the common case (whole-number keys), kept cheap
    out: list[str] = []
    for byte in value.encode("utf-8"):
        if byte in _SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"~{byte:02X}")
    return "".join(out)


def tilde_decode(segment: str) -> str:
    if segment == EMPTY:
        return ""
    if not segment or not _ENCODED.match(segment):
        raise UrlDecodeError(segment)
    data = bytearray()
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "~":
            data.append(int(segment[index + 1 : index + 3], 16))
            index += 3
        else:
            data.append(0x20 if char == "+" else ord(char))
            index += 1
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UrlDecodeError(segment) from None


def key_segment(parts: Sequence[str]) -> str:
    """One path segment for a (possibly composite) primary key given as text parts."""
    return ",".join(tilde_encode(part) for part in parts)


def key_from_segment(segment: str) -> list[str]:
    """The text parts of a primary key `key_segment` wrote."""
    return [tilde_decode(part) for part in segment.split(",")]


def table_slug(table_name: str) -> str:
    """The path segment naming a table (see the module's docstring)."""
    if isinstance(table_name, QualifiedName):
        schema, table = tilde_encode(table_name.schema), tilde_encode(table_name.table)
        return f"{schema}{SCHEMA_SEPARATOR}{table}"
    return tilde_encode(table_name)


def decode_table_slug(slug: str) -> tuple[str | None, str]:
    """The schema (None: the default one) and the table name a path segment names."""
    schema, separator, name = slug.partition(SCHEMA_SEPARATOR)
    if not separator:
        return None, tilde_decode(slug)
    return tilde_decode(schema), tilde_decode(name)


def _table_path(table_name: str) -> str:
    """A table's URL path."""
    if isinstance(table_name, QualifiedName):
        return f"/t/{table_slug(table_name)}"
    return _plain_table_path(table_name)


@lru_cache(maxsize=4096)
def _plain_table_path(table_name: str) -> str:
    """A default-schema table's URL path; kept, since every row of a page links into one or
    two tables. (A QualifiedName equals another table's plain name of the same text, so it
    is never a key here.)"""
    return f"/t/{tilde_encode(table_name)}"


def table_url(
    table_name: str, params: Sequence[tuple[str, str | int]] = (), **query: str | int
) -> str:
    """A table page's URL; `params` may repeat a name (two filters on one column)."""
    url = _table_path(table_name)
    pairs = [*query.items(), *params]
    if pairs:
        url += "?" + urlencode(pairs)
    return url


def export_url(
    table_name: str, format_name: str, params: Sequence[tuple[str, str | int]] = ()
) -> str:
    """The download of a table view's rows (`csv` or `json`); the encoded name holds no dot."""
    url = f"{_table_path(table_name)}.{format_name}"
    return url + "?" + urlencode(params) if params else url


def column_statistics_url(
    table_name: str, column_name: str, params: Sequence[tuple[str, str | int]] = ()
) -> str:
    """A column's statistics page; `params` keep the table view's search and filters."""
    url = f"{_table_path(table_name)}/stats/{tilde_encode(column_name)}"
    return url + "?" + urlencode(params) if params else url


def schema_url(table_name: str | None = None) -> str:
    """The schema page of one table, or (None) of every table."""
    return f"{_table_path(table_name)}/schema" if table_name is not None else "/schema"


def record_url(table_name: str, key_parts: Sequence[str]) -> str:
    return f"{record_url_prefix(table_name)}{key_segment(key_parts)}"


def record_url_prefix(table_name: str) -> str:
    """What every record URL of a table starts with; its encoded key follows."""
    return f"{_table_path(table_name)}/r/"


def new_record_url(table_name: str) -> str:
    return f"{_table_path(table_name)}/new"


def import_url(table_name: str) -> str:
    return f"{_table_path(table_name)}/import"
