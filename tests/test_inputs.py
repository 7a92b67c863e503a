"""The per-type input rules on their own: form text round trips and what counts as an
unchanged value. (The forms themselves are tested per backend in test_edit.py.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Column, Date, DateTime, Enum, Interval, MetaData, Numeric, Table
from sqlalchemy.dialects import mysql, postgresql, sqlite

from webapp.changes.inputs import (
    UNCHANGED,
    FieldError,
    input_spec,
    input_text,
    parse_input,
    resolve,
)
from webapp.database.dialects import adapt_reflected_type, duration_literal
from webapp.values import BadValue


def spec_for(type_, dialect=None):
    table = Table("t", MetaData(), Column("id", Numeric, primary_key=True), Column("v", type_))
    return input_spec(table.c.v, 1, dialect or postgresql.dialect())


@pytest.mark.parametrize(
    "value",
    [
        dt.timedelta(days=2, hours=3, microseconds=5),
        -dt.timedelta(hours=1, seconds=1),
        dt.timedelta(0),
    ],
)
def test_interval_text_round_trips(value: dt.timedelta) -> None:
    spec = spec_for(Interval(), sqlite.dialect())
    assert parse_input(spec, input_text(value), sqlite.dialect()) == value


def test_postgresql_interval_is_taken_as_postgresql_text() -> None:
    """PostgreSQL's intervals keep months apart from days, so they stay its own text."""
    spec = spec_for(Interval())
    text = "1 year 2 mons 3 days 04:05:06"
    assert parse_input(spec, f" {text} ", postgresql.dialect()) == text
    with pytest.raises(FieldError, match="Enter an interval"):
        parse_input(spec, " ", postgresql.dialect())


def test_decimal_beyond_sqlite_precision_is_refused_not_rounded() -> None:
    spec = spec_for(Numeric(30, 20), sqlite.dialect())
    assert parse_input(spec, "1234.56789012345", sqlite.dialect()) == Decimal("1234.56789012345")
    with pytest.raises(FieldError, match="15 significant digits"):
        parse_input(spec, "1234.567890123456", sqlite.dialect())


def test_decimal_scale_and_precision_are_enforced_without_rounding() -> None:
    spec = spec_for(Numeric(5, 2))
    assert parse_input(spec, "123.40", postgresql.dialect()) == Decimal("123.40")
    with pytest.raises(FieldError, match="2 digits after the point"):
        parse_input(spec, "1.005", postgresql.dialect())
    with pytest.raises(FieldError, match="3 digits before the point"):
        parse_input(spec, "1000", postgresql.dialect())


@pytest.mark.parametrize(
    ("current", "sent", "expected"),
    [
        ("a\nb", "a\r\nb", UNCHANGED),
        ("a\r\nb", "a\r\nb", UNCHANGED),
        ("a\rb", "a\r\nb", UNCHANGED),
        ("a\nb", "a\r\nc", "a\nc"),
        ("a\r\nb", "a\r\nc", "a\r\nc"),
        ("", "", UNCHANGED),
        (None, "", ""),
        ("x", None, None),
        (Decimal("1.50"), Decimal("1.5"), UNCHANGED),
        (1, True, UNCHANGED),
        (dt.timedelta(hours=1), dt.time(1, 0), UNCHANGED),
        ({"a": 1}, {"a": 1}, UNCHANGED),
        (b"\x00", b"\x00", UNCHANGED),
        (memoryview(b"\x00"), b"\x01", b"\x01"),
    ],
)
def test_resolve_writes_only_real_changes(current, sent, expected) -> None:
    assert (
        resolve(current, sent) == expected
        if expected is not UNCHANGED
        else (resolve(current, sent) is UNCHANGED)
    )


@pytest.mark.parametrize(
    ("members", "null_choice"),
    [(("a", "b"), ""), (("a", ""), "NULL"), (("", "NULL"), "(NULL)")],
)
def test_an_enum_member_empty_text_is_not_taken_for_null(members, null_choice) -> None:
    spec = spec_for(Enum(*members, name="e"))
    assert spec.null_choice == null_choice
    assert null_choice not in members or null_choice == ""
    if "" in members:
        assert parse_input(spec, "", postgresql.dialect()) == ""


@pytest.mark.parametrize(
    ("type_", "text"),
    [(Date(), "0000-00-00"), (Date(), "2024-01-00"), (DateTime(), "2024-00-00 10:00:00")],
)
def test_a_mysql_zero_date_is_filtered_for_as_its_text(type_, text) -> None:
    assert spec_for(type_, mysql.dialect()).value_kind.parse_filter(text) == text
    with pytest.raises(BadValue):
        spec_for(type_, postgresql.dialect()).value_kind.parse_filter(text)
    with pytest.raises(BadValue):
        spec_for(type_, mysql.dialect()).value_kind.parse_filter("2024-13-01")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (-dt.timedelta(hours=838, minutes=59, seconds=59), "-838:59:59"),
        (dt.timedelta(hours=25, microseconds=500_000), "25:00:00.500000"),
        (-dt.timedelta(seconds=1), "-00:00:01"),
    ],
)
def test_a_mysql_time_beyond_a_day_keeps_its_text(value: dt.timedelta, text: str) -> None:
    kind = spec_for(mysql.TIME(), mysql.dialect()).value_kind
    assert duration_literal(value) == text
    assert kind.key_text(value) == text
    assert kind.parse_key(text) == value
    assert kind.parse_filter(text) == value


def test_a_mysql_double_reads_as_a_float_not_a_ten_place_decimal() -> None:
    table = Table(
        "t", MetaData(), Column("id", Numeric, primary_key=True), Column("d", mysql.DOUBLE())
    )
    adapt_reflected_type(table.c.d, mysql.dialect())
    assert table.c.d.type.python_type is float
    assert spec_for(table.c.d.type, mysql.dialect()).parse_as == "float"
