"""Which columns name a row for people, chosen as a person would: a first and a last name
read together; else the column called like the table or like a name; else a title, a user
name, an e-mail; else the first short text column that is not an address, a code list or a
secret. A column the database's statistics show repeating a lot (a status, a city, a job
title) never names rows, whatever it is called."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from sqlalchemy import Column, Enum, String

LABEL_MAX_LENGTH = 500

FIRST_NAME_COLUMNS = frozenset({"firstname", "first", "givenname", "forename", "fname"})
LAST_NAME_COLUMNS = frozenset({"lastname", "last", "surname", "familyname", "lname"})
# Best first: a column with one of these names is the label, in this order.
NAMED: tuple[tuple[str, ...], ...] = (
    ("name", "fullname", "displayname"),
    ("title", "label", "caption", "heading", "subject"),
    ("username", "login", "handle", "nickname"),
    ("email", "emailaddress", "mail"),
)
# Parts of names of columns that describe or classify a row rather than name it.
NOT_NAMES = re.compile(
    r"address|street|city|town|state|province|region|country|postal|postcode|zip|phone|fax|"
    r"mobile|url|link|path|file|password|passwd|hash|token|secret|salt|description|notes?$|"
    r"comment|remark|body|content|text$|status|type$|kind$|category|currency|language|locale|"
    r"timezone|gender|color|colour|rating|format|mime|sex$"
)
# A column whose distinct values are fewer than this share of its rows repeats a lot, once
# the table holds at least REPEAT_MIN_ROWS rows (fewer say nothing).
REPEAT_RATIO = 0.5
REPEAT_MIN_ROWS = 20


def choose_label_columns(
    table_name: str,
    columns: Sequence[Column],
    excluded: Collection[str],
    repetitive: Collection[str],
) -> tuple[Column, ...]:
    """The columns whose values, joined by a space, name a row: () when none does.
    `columns` are the visible ones in table order; `excluded` are key and foreign-key
    columns; `repetitive` the columns the statistics show repeating a lot."""
    candidates = [
        column
        for column in columns
        if column.name not in excluded
        and isinstance(column.type, String)
        and not isinstance(column.type, Enum)
        and (getattr(column.type, "length", None) or 10_000) <= LABEL_MAX_LENGTH
    ]
    first = next((c for c in candidates if _plain(c.name) in FIRST_NAME_COLUMNS), None)
    last = next((c for c in candidates if _plain(c.name) in LAST_NAME_COLUMNS), None)
    if first is not None and last is not None:
        return (first, last)
    usable = [column for column in candidates if column.name not in repetitive]
    plain = {_plain(column.name): column for column in reversed(usable)}
    for name in _singulars(_plain(table_name)):
        if name in plain:
            return (plain[name],)
    for group in NAMED[:1]:
        for name in group:
            if name in plain:
                return (plain[name],)
    for column in usable:
        if _plain(column.name).endswith("name") and not NOT_NAMES.search(_plain(column.name)):
            return (column,)
    for group in NAMED[1:]:
        for name in group:
            if name in plain:
                return (plain[name],)
    for column in usable:
        if not NOT_NAMES.search(_plain(column.name)):
            return (column,)
    return ()


def repeats_a_lot(distinct: float, rows: float) -> bool:
    """Whether a column with about `distinct` values over about `rows` rows repeats a lot."""
    return rows >= REPEAT_MIN_ROWS and distinct < REPEAT_RATIO * rows


def _singulars(name: str) -> list[str]:
    """A table's name and the singulars it may be the plural of (`cities`: `city`)."""
    out = [name]
    if name.endswith("ies"):
        out.append(name[:-3] + "y")
    if name.endswith("es"):
        out.append(name[:-2])
    if name.endswith("s"):
        out.append(name[:-1])
    return [item for item in out if item]


def _plain(name: str) -> str:
    """A column name as compared here: lower case, letters and digits only."""
    return "".join(char for char in name.lower() if char.isalnum())
