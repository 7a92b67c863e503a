"""Kinds of date, time, duration and UUID columns: ISO text in forms and filters, time
zones matched to the column, fractions of a second checked against what the column keeps,
PostgreSQL's `infinity` where the database has it."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column
from sqlalchemy.engine import Dialect

from webapp.database.dialects import date_text_form, has_zero_dates, time_is_duration
from webapp.database.pg_text import SpecialMoment, far_moment
from webapp.database.unreadable import Undecodable
from webapp.values.cells import Cell
from webapp.values.kinds import BadKey, BadValue, FieldError, ListColumn, ValueKind, need_dialect
from webapp.values.pytypes import show_value


class DateTimeKind(ValueKind):
    family = "date"
    parse_as = "datetime"
    accepted: tuple[type, ...] = (dt.datetime, SpecialMoment)

    def __init__(self, column: Column, dialect: Dialect | None) -> None:
        super().__init__(column, dialect)
        if self.aware:
            self.hint = "YYYY-MM-DD HH:MM:SS.ffffff+HH:MM (UTC when no offset is given)"

    noun = "dates and times (2024-01-31 or 2024-01-31 12:30)"
    hint = "YYYY-MM-DD HH:MM:SS.ffffff"

    @property
    def aware(self) -> bool:
        return bool(getattr(self.column.type, "timezone", False))

    def list_column(self, keep_whole: bool) -> ListColumn:
        return _date_list_column(self, keep_whole)

    def parse_key(self, text: str) -> Any:
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            return _far_or(self, text, BadKey(text))

    def parse_filter(self, text: str) -> Any:
        value = moment_filter(
            self,
            text,
            dt.datetime.fromisoformat,
            ZERO_DATETIME,
            "dates and times (2024-01-31 or 2024-01-31 12:30)",
        )
        return _match_time_zone(value, self.aware) if isinstance(value, dt.datetime) else value

    def parse_input(self, text: str) -> Any:
        special = self.special_moment(text)
        if special is not None:
            return special
        try:
            value = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise FieldError("Enter a date and time as YYYY-MM-DD HH:MM:SS.ffffff.") from None
        if self.aware and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)  # as the hint says
        if not self.aware and value.tzinfo is not None:
            raise FieldError("This column holds times without a UTC offset; leave it out.")
        _check_fraction(self, value.microsecond)
        return value


ZERO_DATE = re.compile(r"\d{4}-\d\d-\d\d")
ZERO_DATETIME = re.compile(r"\d{4}-\d\d-\d\d(?: \d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?)?")


def moment_filter(
    kind: ValueKind,
    text: str,
    parse: Callable[[str], Any],
    zero_form: re.Pattern[str],
    noun: str,
) -> Any:
    """A filter value for a date or date-and-time column: `infinity` where the database has
    it, a far date as the database writes it, else the ISO text `parse`d, else a zero date
    kept as text where the database has those; BadValue saying what the column holds."""
    special = kind.special_moment(text)
    if special is not None:
        return special
    far = _far(kind, text)
    if far is not None:
        return far
    try:
        return parse(text.strip())
    except ValueError:
        if zero_date(kind, text, zero_form):
            return text.strip()
        raise BadValue(f"{kind.column.name!r} holds {noun}, not {text[:40]!r}") from None


def zero_date(kind: ValueKind, text: str, form: re.Pattern[str]) -> bool:
    """Whether `text` is a date with zero parts ('0000-00-00', '2024-01-00 10:00:00') where
    the database keeps such dates: filtered for as that text, which the database compares
    with the column, since no Python date holds it."""
    cleaned = text.strip()
    if kind.dialect is None or not has_zero_dates(kind.dialect) or not form.fullmatch(cleaned):
        return False
    year, month, day = cleaned[:10].split("-")
    return year == "0000" or "00" in (month, day)


def _far(kind: ValueKind, text: str) -> Undecodable | None:
    """A PostgreSQL date, timestamp or time Python cannot hold (0044-03-15 BC, 24:00:00),
    typed as the database writes it: the value it stands for, read back through the
    connection's codecs (pg_text); None elsewhere or for other text."""
    if not kind.special:
        return None
    type_ = kind.column.type
    name = {DateKind: "date", DateTimeKind: "timestamp", TimeKind: "time"}.get(type(kind))
    if name is None:
        return None
    zoned = name != "date" and getattr(type_, "timezone", False)
    return far_moment(text, name + "tz" if zoned else name)


def _far_or(kind: ValueKind, text: str, error: Exception) -> Any:
    far = _far(kind, text)
    if far is None:
        raise error from None
    return far


def _match_time_zone(moment: dt.datetime, aware: bool) -> dt.datetime:
    """Drivers refuse to compare a naive column with an aware value and vice versa."""
    if aware and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    if not aware and moment.tzinfo is not None:
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _date_list_column(kind: ValueKind, keep_whole: bool) -> ListColumn:
    """A date fetched as the text the database writes where that is cheaper (MySQL)."""
    as_text = None if keep_whole else date_text_form(kind.column, need_dialect(kind.dialect))
    if as_text is None:
        return ValueKind.list_column(kind, keep_whole)
    return ListColumn(kind.column, (as_text,), _show_date_text, cut_kind="date")


def _show_date_text(values: tuple[Any, ...]) -> Cell:
    """A date the database wrote as text (dialects.date_text_form)."""
    value = values[0]
    if value is None or isinstance(value, Undecodable):
        return show_value(value, True)
    return Cell("date", str(value))


def _check_fraction(kind: ValueKind, microsecond: int) -> None:
    digits = None
    for attribute in ("fsp", "precision"):
        value = getattr(kind.column.type, attribute, None)
        if isinstance(value, int):
            digits = value
            break
    if digits is not None and digits < 6 and microsecond % 10 ** (6 - digits):
        if digits == 0:
            raise FieldError("This column keeps whole seconds only.")
        raise FieldError(f"This column keeps {digits} digits of a second.")


class DateKind(ValueKind):
    family = "date"
    parse_as = "date"
    accepted: tuple[type, ...] = (dt.date, SpecialMoment)
    hint = "YYYY-MM-DD"

    def list_column(self, keep_whole: bool) -> ListColumn:
        return _date_list_column(self, keep_whole)

    def parse_key(self, text: str) -> Any:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return _far_or(self, text, BadKey(text))

    def parse_filter(self, text: str) -> Any:
        return moment_filter(self, text, dt.date.fromisoformat, ZERO_DATE, "dates (2024-01-31)")

    def parse_input(self, text: str) -> Any:
        special = self.special_moment(text)
        if special is not None:
            return special
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            raise FieldError("Enter a date as YYYY-MM-DD.") from None


_INTERVAL = re.compile(
    r"(?P<sign>-)?(?:(?P<days>\d+) days?,? )?"
    r"(?P<h>\d+):(?P<m>\d\d)(?::(?P<s>\d\d)(?P<f>\.\d{1,6})?)?"
)


def parse_duration(text: str) -> dt.timedelta:
    """`[D days, ]HH:MM:SS[.ffffff]` as a timedelta; FieldError otherwise."""
    match = _INTERVAL.fullmatch(text.strip())
    if match is None:
        raise FieldError("Enter a duration as [D days, ]HH:MM:SS.ffffff.")
    value = dt.timedelta(
        days=int(match["days"] or 0),
        hours=int(match["h"]),
        minutes=int(match["m"]),
        seconds=int(match["s"] or 0),
        microseconds=int((match["f"] or ".0")[1:].ljust(6, "0")),
    )
    return -value if match["sign"] else value


class TimeKind(ValueKind):
    family = "date"
    parse_as = "time"
    accepted: tuple[type, ...] = (dt.time, dt.timedelta)
    noun = "times (12:30:00)"
    hint = "HH:MM:SS.ffffff"

    def parse_key(self, text: str) -> Any:
        try:
            return dt.time.fromisoformat(text)
        except ValueError:
            if self.time_is_duration and _INTERVAL.fullmatch(text.strip()):
                return parse_duration(text)
            return _far_or(self, text, BadKey(text))

    def parse_input(self, text: str) -> Any:
        try:
            value = dt.time.fromisoformat(text.strip())
        except ValueError:
            if self.time_is_duration and _INTERVAL.fullmatch(text.strip()):
                return parse_duration(text)
            raise FieldError("Enter a time as HH:MM:SS.ffffff.") from None
        _check_fraction(self, value.microsecond)
        return value

    @property
    def time_is_duration(self) -> bool:
        """MySQL's TIME is a duration (-838:59:59 to 838:59:59), read as a timedelta."""
        return self.dialect is not None and time_is_duration(self.dialect)


class IntervalKind(ValueKind):
    family = "date"
    parse_as = "interval"
    hint = "[D days, ]HH:MM:SS.ffffff"

    def parse_input(self, text: str) -> Any:
        return parse_duration(text)


class UuidKind(ValueKind):
    parse_as = "uuid"
    noun = "UUIDs"
    hint = "a UUID"

    def parse_key(self, text: str) -> Any:
        try:
            return uuid.UUID(text)
        except ValueError:
            raise BadKey(text) from None

    def parse_input(self, text: str) -> Any:
        try:
            return uuid.UUID(text.strip())
        except ValueError:
            raise FieldError("Enter a UUID, like 123e4567-e89b-12d3-a456-426614174000.") from None
