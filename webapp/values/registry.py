"""Which ValueKind a column gets: `@converts` rules, per backend and column type, tried in
the order they were registered (a backend's own rules first), the way sqladmin's form
converters pick a field. A column no rule claims gets UnknownKind: the database's text,
read-only, never an error."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Enum, Integer, Interval, LargeBinary, Numeric, String
from sqlalchemy.dialects.mysql import TINYINT
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType, TypeEngine

from webapp.database.dialects import backend_of
from webapp.values.kinds import (
    BinaryKind,
    BoolKind,
    EnumKind,
    JsonKind,
    OtherKind,
    PlainTextKind,
    TextKind,
    UnknownKind,
    ValueKind,
    python_type_of,
)
from webapp.values.moments import DateKind, DateTimeKind, IntervalKind, TimeKind, UuidKind
from webapp.values.numbers import DecimalKind, FloatKind, IntKind

Matcher = Callable[[TypeEngine[Any]], bool]


@dataclass(frozen=True)
class Rule:
    kind: type[ValueKind]
    backend: str | None  # None: every backend
    matches: Matcher


_RULES: list[Rule] = []
_CACHE_KEY = "webapp.value_kind"


def converts(
    *types: type[TypeEngine[Any]],
    backend: str | None = None,
    when: Matcher | None = None,
    python: tuple[type, ...] = (),
) -> Callable[[type[ValueKind]], type[ValueKind]]:
    """Register the decorated kind for column types that are instances of `types` (or
    whose values come back as one of `python`), on `backend` (or all), where `when` holds."""

    def matches(type_: TypeEngine[Any]) -> bool:
        typed = bool(types) and isinstance(type_, types)
        by_value = bool(python) and python_type_of(type_) in python
        if (types or python) and not (typed or by_value):
            return False
        return when is None or when(type_)

    def register(kind: type[ValueKind]) -> type[ValueKind]:
        _RULES.append(Rule(kind, backend, matches))
        return kind

    return register


def rule(kind: type[ValueKind], *types: type[TypeEngine[Any]], **options: Any) -> None:
    """`converts` for a kind registered by more than one rule."""
    converts(*types, **options)(kind)


def kind_class(type_: TypeEngine[Any], backend: str | None) -> type[ValueKind]:
    """The kind a column of `type_` gets on `backend`: its own rules, then everyone's."""
    for wanted in (backend, None) if backend is not None else (None,):
        for candidate in _RULES:
            if candidate.backend == wanted and candidate.matches(type_):
                return candidate.kind
    return OtherKind


def kind_for(column: Column, dialect: Dialect | None = None) -> ValueKind:
    """The kind of `column`'s values, made once per column (the catalog makes it with the
    database's dialect when it reflects the table; later calls need not pass it)."""
    cached = column.info.get(_CACHE_KEY)
    if cached is not None and (dialect is None or cached.dialect is dialect):
        return cached
    backend = backend_of(dialect) if dialect is not None else None
    kind = kind_class(column.type, backend)(column, dialect)
    column.info[_CACHE_KEY] = kind
    return kind


def column_family(type_: TypeEngine[Any]) -> str:
    """A coarse type family (number, bool, date, text, json, binary, unknown or other)."""
    return kind_class(type_, None).family


# Everyone's rules, most specific first.
rule(UnknownKind, NullType)
rule(JsonKind, JSON)
rule(BinaryKind, LargeBinary, python=(bytes,))
rule(EnumKind, Enum)
rule(BoolKind, TINYINT, when=lambda type_: getattr(type_, "display_width", None) == 1)
rule(TextKind, String)
rule(IntKind, Integer, python=(int,))
rule(
    DecimalKind,
    python=(decimal.Decimal,),
)
rule(
    DecimalKind,
    Numeric,
    when=lambda type_: python_type_of(type_) is None and getattr(type_, "asdecimal", True),
)
rule(FloatKind, python=(float,))
rule(BoolKind, python=(bool,))
rule(IntervalKind, Interval, python=(dt.timedelta,))
rule(DateTimeKind, python=(dt.datetime,))
rule(DateKind, python=(dt.date,))
rule(TimeKind, python=(dt.time,))
rule(UuidKind, python=(uuid.UUID,))
rule(PlainTextKind, python=(str,))
