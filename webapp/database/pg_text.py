"""PostgreSQL dates, timestamps and intervals read as the database means them: asyncpg's
own codecs turn `infinity` into 9999-12-31 and fold an interval's months into days. On the
app's connections, dates and timestamps are decoded here from asyncpg's tuple form
(`infinity`/`-infinity` become a `SpecialMoment`; a date Python cannot hold, BC or after
9999, an Undecodable holding the text PostgreSQL writes for it), and intervals are
exchanged as PostgreSQL's own text, as are geometric values."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webapp.database.unreadable import OUT_OF_RANGE, Undecodable

INFINITIES = ("infinity", "-infinity")
# What the text exchange needs of the session: ISO dates, PostgreSQL's interval text.
SESSION_SETTINGS = {"DateStyle": "ISO, YMD", "IntervalStyle": "postgres"}
# Exchanged as PostgreSQL's text ('(1,2)', '<(0,0),1>'): asyncpg's own codecs want tuples
# and objects, so the text the app shows and logs could not be written back.
GEOMETRIC_TYPES = ("point", "line", "lseg", "box", "path", "polygon", "circle")

EPOCH_DATE = dt.date(2000, 1, 1)
EPOCH = dt.datetime(2000, 1, 1)
EPOCH_UTC = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# asyncpg's tuple form marks infinities with the extremes of the wire integers.
DAYS_INFINITY, DAYS_MINUS_INFINITY = 2**31 - 1, -(2**31)
MICROS_INFINITY, MICROS_MINUS_INFINITY = 2**63 - 1, -(2**63)


@dataclass(frozen=True)
class SpecialMoment:
    """PostgreSQL's `infinity` or `-infinity` date or timestamp."""

    text: str

    def __str__(self) -> str:
        return self.text


def _decode_date(data: tuple[int]) -> Any:
    days = data[0]
    if days in (DAYS_INFINITY, DAYS_MINUS_INFINITY):
        return SpecialMoment("infinity" if days > 0 else "-infinity")
    try:
        return EPOCH_DATE + dt.timedelta(days=days)
    except OverflowError:
        return Undecodable(_far_date_text(days), OUT_OF_RANGE)


CYCLE_DAYS = 146_097  # the Gregorian calendar repeats every 400 years


def _far_date_text(days: int, time_text: str = "") -> str:
    """A date beyond Python's years 1 to 9999 as PostgreSQL writes it (0044-03-15 BC)."""
    cycles = days // CYCLE_DAYS
    base = EPOCH_DATE + dt.timedelta(days=days - cycles * CYCLE_DAYS)
    year = base.year + 400 * cycles
    era = "" if year > 0 else " BC"
    return f"{year if year > 0 else 1 - year:04d}-{base.month:02d}-{base.day:02d}{time_text}{era}"


# PostgreSQL's first and last date (4714-11-24 BC, 5874897-12-31) and timestamp (its first
# day, 294276-12-31 23:59:59.999999), counted from 2000-01-01.
DAY_MICROS = 86_400_000_000
FIRST_DAY, LAST_DAY = -2_451_545, 2_145_031_948
FIRST_MICROS, LAST_MICROS = FIRST_DAY * DAY_MICROS, 9_223_371_331_199_999_999
_FAR_DATE = r"(?P<year>\d{4,})-(?P<month>\d\d)-(?P<day>\d\d)"
_CLOCK = r"(?P<clock>(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?)"
_ZONE = r"(?P<zone>[+-]\d\d(?::?\d\d)?)"
_ERA = r"(?P<bc> BC)?"
FAR_FORMS = {
    "date": re.compile(_FAR_DATE + _ERA),
    "timestamp": re.compile(_FAR_DATE + " " + _CLOCK + _ERA),
    "timestamptz": re.compile(_FAR_DATE + " " + _CLOCK + _ZONE + "?" + _ERA),
    "time": re.compile(r"24:00(?::00(?:\.0{1,6})?)?"),
    "timetz": re.compile(r"24:00(?::00(?:\.0{1,6})?)?" + _ZONE + "?"),
}


def far_moment(text: str, type_name: str) -> Undecodable | None:
    """A date, timestamp or time Python cannot hold (0044-03-15 BC, year 10000 and on,
    24:00:00), typed the way PostgreSQL writes it, as the value the codecs below write
    back; None for any other text."""
    cleaned = text.strip()
    match = FAR_FORMS[type_name].fullmatch(cleaned)
    if match is None or (not type_name.startswith("time") and _in_python_range(match)):
        return None
    value = Undecodable(cleaned, OUT_OF_RANGE)
    try:
        _FAR_ENCODERS[type_name](value)
    except (ValueError, OverflowError):
        return None
    return value


def _in_python_range(match: re.Match[str]) -> bool:
    return not match["bc"] and 1 <= int(match["year"]) <= 9999


def _far_days(match: re.Match[str]) -> int:
    """Days from 2000-01-01 of a matched far date (the inverse of _far_date_text)."""
    year = int(match["year"])
    if match["bc"]:
        if year == 0:
            raise ValueError("there is no year 0 BC")
        year = 1 - year
    cycles = (year - 1) // 400
    base = dt.date(year - 400 * cycles, int(match["month"]), int(match["day"]))
    days = (base - EPOCH_DATE).days + cycles * CYCLE_DAYS
    if not FIRST_DAY <= days <= LAST_DAY:
        raise ValueError("beyond PostgreSQL's dates")
    return days


def _far_micros(match: re.Match[str]) -> int:
    """Microseconds from 2000-01-01 00:00 (UTC for a zone) of a matched far timestamp."""
    clock = dt.time.fromisoformat(match["clock"])
    micros = _far_days(match) * 86_400 + clock.hour * 3600 + clock.minute * 60 + clock.second
    micros = micros * 1_000_000 + clock.microsecond
    micros -= _zone_offset(match.groupdict().get("zone")) * 1_000_000
    if not FIRST_MICROS <= micros <= LAST_MICROS:
        raise ValueError("beyond PostgreSQL's timestamps")
    return micros


def _zone_offset(zone: str | None) -> int:
    """Seconds east of UTC of '+05', '-03:30' or '+0530' (0 for none)."""
    if not zone:
        return 0
    digits = zone[1:].replace(":", "")
    seconds = int(digits[:2]) * 3600 + int(digits[2:] or 0) * 60
    return -seconds if zone[0] == "-" else seconds


def _far_value(value: Undecodable, type_name: str) -> re.Match[str]:
    match = FAR_FORMS[type_name].fullmatch(str(value.raw))
    if value.reason != OUT_OF_RANGE or match is None:
        raise ValueError(f"not a {type_name}: {value.raw!r}")
    return match


def _encode_date(value: Any) -> tuple[int]:
    if isinstance(value, Undecodable):
        return (_far_days(_far_value(value, "date")),)
    if isinstance(value, SpecialMoment):
        return (DAYS_INFINITY if value.text == "infinity" else DAYS_MINUS_INFINITY,)
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    return ((value - EPOCH_DATE).days,)


def _timestamp_codec(
    epoch: dt.datetime,
) -> tuple[Callable[[Any], tuple[int]], Callable[[tuple[int]], Any]]:
    aware = epoch.tzinfo is not None
    zone = "+00" if aware else ""

    def decode(data: tuple[int]) -> Any:
        micros = data[0]
        if micros in (MICROS_INFINITY, MICROS_MINUS_INFINITY):
            return SpecialMoment("infinity" if micros > 0 else "-infinity")
        try:
            return epoch + dt.timedelta(microseconds=micros)
        except OverflowError:
            days, rest = divmod(micros, 86_400_000_000)
            clock = (dt.datetime.min + dt.timedelta(microseconds=rest)).time().isoformat()
            return Undecodable(_far_date_text(days, " " + clock + zone), OUT_OF_RANGE)

    def encode(value: Any) -> tuple[int]:
        if isinstance(value, Undecodable):
            match = _far_value(value, "timestamptz" if aware else "timestamp")
            return (_far_micros(match),)
        if isinstance(value, SpecialMoment):
            return (MICROS_INFINITY if value.text == "infinity" else MICROS_MINUS_INFINITY,)
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        elif not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        if aware and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        elif not aware and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        delta = value - epoch
        return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds,)

    return encode, decode


def _decode_time(data: tuple[int]) -> Any:
    """A time of day; PostgreSQL's 24:00:00, which Python has not, as its text."""
    micros = data[0]
    if micros >= DAY_MICROS:
        return Undecodable("24:00:00", OUT_OF_RANGE)
    return (dt.datetime.min + dt.timedelta(microseconds=micros)).time()


def _encode_time(value: Any) -> tuple[int]:
    if isinstance(value, Undecodable):
        _far_value(value, "time")
        return (DAY_MICROS,)
    if isinstance(value, str):
        value = dt.time.fromisoformat(value)
    return (((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond,)


def _decode_timetz(data: tuple[int, int]) -> Any:
    micros, west_seconds = data
    offset = dt.timedelta(seconds=-west_seconds)
    if micros >= DAY_MICROS:
        return Undecodable("24:00:00" + _zone_text(offset), OUT_OF_RANGE)
    clock = (dt.datetime.min + dt.timedelta(microseconds=micros)).time()
    return clock.replace(tzinfo=dt.timezone(offset))


def _zone_text(offset: dt.timedelta) -> str:
    """A UTC offset as PostgreSQL writes it: +05, +05:30, -03."""
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours:02d}" + (f":{minutes:02d}" if minutes else "")


def _encode_timetz(value: Any) -> tuple[int, int]:
    if isinstance(value, Undecodable):
        match = _far_value(value, "timetz")
        return (DAY_MICROS, -_zone_offset(match["zone"]))
    if isinstance(value, str):
        value = dt.time.fromisoformat(value)
    offset = value.utcoffset() or dt.timedelta(0)
    return (_encode_time(value)[0], -int(offset.total_seconds()))


def _encode_interval(value: Any) -> str:
    if isinstance(value, dt.timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    return str(value)


_TIMESTAMP_ENCODERS = {
    name: _timestamp_codec(epoch)[0]
    for name, epoch in (("timestamp", EPOCH), ("timestamptz", EPOCH_UTC))
}
_FAR_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "date": _encode_date,
    **_TIMESTAMP_ENCODERS,
    "time": _encode_time,
    "timetz": _encode_timetz,
}


async def install_text_codecs(connection: Any) -> None:
    """Dates, timestamps, times and intervals as above, on an asyncpg connection."""
    await connection.set_type_codec(
        "date", encoder=_encode_date, decoder=_decode_date, schema="pg_catalog", format="tuple"
    )
    for name, epoch in (("timestamp", EPOCH), ("timestamptz", EPOCH_UTC)):
        encode, decode = _timestamp_codec(epoch)
        await connection.set_type_codec(
            name, encoder=encode, decoder=decode, schema="pg_catalog", format="tuple"
        )
    for name, encoder, decoder in (
        ("time", _encode_time, _decode_time),
        ("timetz", _encode_timetz, _decode_timetz),
    ):
        await connection.set_type_codec(
            name, encoder=encoder, decoder=decoder, schema="pg_catalog", format="tuple"
        )
    await connection.set_type_codec(
        "interval", encoder=_encode_interval, decoder=str, schema="pg_catalog", format="text"
    )
    for name in GEOMETRIC_TYPES:
        await connection.set_type_codec(
            name, encoder=str, decoder=str, schema="pg_catalog", format="text"
        )
