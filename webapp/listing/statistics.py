"""Column statistics for the rows a table view selects: how many, how many NULL, how many
distinct, the least and greatest value, a histogram of numbers and dates, the most common
values of the rest. Every bar and value is a filter of the table page, and each is counted
with the very condition that filter adds to the view (the same `Filter`, parsed from the
same text), so that a bar's link finds exactly the rows the bar counts. On a view with more
than SAMPLE_ROWS rows, the first SAMPLE_ROWS the database returns are counted, and said to
be a sample."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Select, and_, case, distinct, func, literal_column, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from webapp.database.decoding import fetch_rows
from webapp.listing.filters import Filter, operators_for, parse_filters
from webapp.schema.catalog import TableInfo, str_type
from webapp.values import ValueKind, key_text, kind_for
from webapp.values.kinds import BoolKind, EnumKind, PlainTextKind, TextKind
from webapp.values.moments import DateKind, DateTimeKind, TimeKind, UuidKind
from webapp.values.numbers import DecimalKind, FloatKind, IntKind
from webapp.web.errors import BadRequest

SAMPLE_ROWS = 100_000
TARGET_BINS = 20
TOP_VALUES = 10
STATISTICS_CACHE_SECONDS = 30.0

# Kinds whose values every backend can group and count distinct (equality is defined).
GROUPABLE_KINDS: tuple[type[ValueKind], ...] = (
    TextKind,
    EnumKind,
    BoolKind,
    IntKind,
    DecimalKind,
    FloatKind,
    DateKind,
    DateTimeKind,
    TimeKind,
    UuidKind,
)
# Kinds whose least and greatest values every backend can find.
ORDERED_KINDS: tuple[type[ValueKind], ...] = (
    TextKind,
    IntKind,
    DecimalKind,
    FloatKind,
    DateKind,
    DateTimeKind,
    TimeKind,
)

# A link to the table page that adds these filters to the view.
FilterLink = Callable[[Sequence[Filter]], str]


@dataclass(frozen=True)
class Bar:
    """One histogram bin or one common value: what it is, how many rows, and the filters
    (as URL parameters) that find those rows, with the link made of them."""

    label: str
    count: int
    params: tuple[tuple[str, str], ...] = ()
    href: str | None = None
    low: str | None = None  # a bin's edges as filter text (the high one excluded, but
    high: str | None = None  # for the last bin)
    last: bool = False


@dataclass
class ColumnStatistics:
    column: str
    type: str
    rows: int = 0  # the rows counted (the view's, or the sample's)
    sampled: bool = False
    sample_rows: int = 0  # how many rows a sample holds
    nulls: int = 0
    null_href: str | None = None
    distinct: int | None = None
    minimum: str | None = None
    maximum: str | None = None
    histogram: list[Bar] = field(default_factory=list)
    unit: str | None = None  # what a bin spans: "day", "month", "10 years", "5", ...
    top_values: list[Bar] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def column_statistics(
    conn: AsyncConnection,
    info: TableInfo,
    column: Column,
    where: Sequence[ColumnElement[bool]],
    link: FilterLink,
) -> ColumnStatistics:
    """The statistics of `column` over the rows `where` selects; `link(filters)` is the
    table page's URL of the view with `filters` added."""
    kind = kind_for(column)
    stats = ColumnStatistics(column.name, str_type(column.type))
    dialect = conn.dialect
    limited: Select[Any] = select(literal_column("1")).select_from(info.table).where(*where)
    limited = limited.limit(SAMPLE_ROWS + 1)
    seen = int(await conn.scalar(select(func.count()).select_from(limited.subquery())) or 0)
    stats.sampled = seen > SAMPLE_ROWS
    stats.sample_rows = SAMPLE_ROWS
    source = Source(info, column, where, sample=stats.sampled)
    groupable = isinstance(kind, GROUPABLE_KINDS) and type(kind) is not PlainTextKind
    ordered = isinstance(kind, ORDERED_KINDS) and type(kind) is not PlainTextKind
    value = source.value
    summary: list[ColumnElement[Any]] = [func.count(), func.count(value)]
    if groupable:
        summary.append(func.count(distinct(value)))
    if ordered:
        summary += [func.min(value), func.max(value)]
    row = (await fetch_rows(conn, source.select(*summary), summary))[0]
    stats.rows, not_null = int(row[0]), int(row[1])
    stats.nulls = stats.rows - not_null
    if groupable:
        stats.distinct = int(row[2])
    else:
        stats.notes.append("Distinct and common values are not computed for this type.")
    low = high = None
    if ordered and not_null:
        low, high = row[-2], row[-1]
        stats.minimum = kind.show(low, preview=True).text
        stats.maximum = kind.show(high, preview=True).text
    if stats.nulls:
        null_filter = filters_for(info, [(f"{column.name}__isnull", "1")], dialect)
        if null_filter is not None:
            stats.null_href = link(null_filter)
    if not not_null:
        return stats
    bins = histogram_bins(info, column, kind, low, high, dialect)
    if bins is not None:
        stats.unit, candidates = bins
        with contextlib.suppress(UnnameableValue):
            stats.histogram = await count_bars(conn, source, candidates, link, dialect)
    if not stats.histogram and groupable:
        stats.top_values = await top_values(conn, info, source, kind, link, dialect)
    return stats


class Source:
    """Where the statistics count: the table under the view's conditions, or (sampled) the
    first SAMPLE_ROWS of those rows, with conditions on the column moved onto the sample."""

    def __init__(
        self,
        info: TableInfo,
        column: Column,
        where: Sequence[ColumnElement[bool]],
        *,
        sample: bool,
    ) -> None:
        self.info = info
        self.where = list(where)
        self.adapter: ClauseAdapter | None = None
        self.value: ColumnElement[Any] = column
        if sample:
            inner = select(column).select_from(info.table).where(*where).limit(SAMPLE_ROWS)
            subquery = inner.subquery("sample")
            self.adapter = ClauseAdapter(subquery)
            self.value = subquery.c[column.key]
            self.subquery = subquery

    def select(self, *expressions: ColumnElement[Any]) -> Any:
        if self.adapter is not None:
            return select(*expressions).select_from(self.subquery)
        return select(*expressions).select_from(self.info.table).where(*self.where)

    def condition(self, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        """A condition on the table's column, as a condition on what is counted."""
        if self.adapter is None:
            return condition
        adapted: ColumnElement[bool] = self.adapter.traverse(condition)
        return adapted


def filters_for(
    info: TableInfo, params: Sequence[tuple[str, str]], dialect: Dialect
) -> list[Filter] | None:
    """The filters the table page reads from these URL parameters, or None when it would
    refuse one (then no link is offered: it would not find what is counted)."""
    try:
        filters = parse_filters(info, params)
        for item in filters:
            item.condition(dialect)
    except BadRequest:
        return None
    return filters


async def count_bars(
    conn: AsyncConnection,
    source: Source,
    candidates: Sequence[Bar],
    link: FilterLink,
    dialect: Dialect,
) -> list[Bar]:
    """Each bar counted, in one statement, by the conditions of the filters its link adds."""
    conditions: list[list[Filter]] = []
    for bar in candidates:
        filters = filters_for(source.info, bar.params, dialect)
        if filters is None:
            raise UnnameableValue(bar.label)
        conditions.append(filters)
    sums = [
        func.sum(case((source.condition(_and(filters, dialect)), 1), else_=0))
        for filters in conditions
    ]
    counts = (await conn.execute(source.select(*sums))).one() if sums else ()
    return [
        Bar(
            bar.label,
            int(number or 0),
            bar.params,
            link(filters),
            bar.low,
            bar.high,
            bar.last,
        )
        for bar, filters, number in zip(candidates, conditions, counts, strict=True)
    ]


class UnnameableValue(Exception):
    """A value or bin edge the table page's filters cannot name."""


def _and(filters: Sequence[Filter], dialect: Dialect) -> ColumnElement[bool]:
    conditions = [item.condition(dialect) for item in filters]
    return conditions[0] if len(conditions) == 1 else and_(*conditions)


async def top_values(
    conn: AsyncConnection,
    info: TableInfo,
    source: Source,
    kind: ValueKind,
    link: FilterLink,
    dialect: Dialect,
) -> list[Bar]:
    """The most common non-NULL values; a value the `exact` filter can name is counted
    again by that filter (what its link finds), one it cannot is shown without a link."""
    value = source.value
    number = func.count()  # unlabelled: a label could be a column's name too
    statement = (
        source.select(value, number)
        .where(value.is_not(None))
        .group_by(value)
        .order_by(func.count().desc(), value)
        .limit(TOP_VALUES)
    )
    rows = await fetch_rows(conn, statement, [value, number])
    column = kind.column
    nameable = "exact" in operators_for(column)
    named: list[Bar] = []
    shown: list[tuple[int, Bar]] = []
    for position, (found, counted) in enumerate(rows):
        label = kind.show(found, preview=True).text
        params = ((f"{column.name}__exact", key_text(found)),)
        if nameable and kind.fits(found) and filters_for(info, params, dialect):
            named.append(Bar(label, int(counted), params))
        shown.append((position, Bar(label, int(counted))))
    recounted = {bar.params: bar for bar in await _recount(conn, source, named, link, dialect)}
    out = []
    for position, plain in shown:
        params = ((f"{column.name}__exact", key_text(rows[position][0])),)
        bar = recounted.get(params)
        out.append(bar if bar is not None and bar.count else plain)
    return out


async def _recount(
    conn: AsyncConnection, source: Source, bars: list[Bar], link: FilterLink, dialect: Dialect
) -> list[Bar]:
    try:
        return await count_bars(conn, source, bars, link, dialect)
    except UnnameableValue:
        return []


def histogram_bins(
    info: TableInfo,
    column: Column,
    kind: ValueKind,
    low: Any,
    high: Any,
    dialect: Dialect,
) -> tuple[str, list[Bar]] | None:
    """The bins between the least and greatest value, as filters of the table page (each
    `gte` its low edge and `lt` the next; the first bin from the least value, the last up
    to and with the greatest); None when the column gets no histogram (not a number or
    date, an edge no filter can name)."""
    ops = operators_for(column)
    if not {"gte", "lt", "notnull"} <= set(ops) or low is None or high is None:
        return None
    if not (kind.fits(low) and kind.fits(high)):
        return None
    if isinstance(kind, IntKind | DecimalKind | FloatKind):
        found = number_edges(kind, low, high)
    elif isinstance(kind, DateKind | DateTimeKind):
        found = date_edges(low, high)
    else:
        return None
    if found is None:
        return None
    unit, edges, labels = found
    name = column.name
    bars = []
    for index, label in enumerate(labels):
        start, end = edges[index], edges[index + 1]
        first, last = index == 0, index == len(labels) - 1
        # The least and greatest values bound the outer bins without being named: every
        # non-NULL value is at least the one and at most the other.
        params: tuple[tuple[str, str], ...] = ((f"{name}__notnull", "1"),) if first and last else ()
        if not first:
            params += ((f"{name}__gte", start),)
        if not last:
            params += ((f"{name}__lt", end),)
        if filters_for(info, params, dialect) is None:
            return None
        bars.append(Bar(label, 0, params, low=start, high=end, last=last))
    return unit, bars


Edges = tuple[str, list[str], list[str]]  # unit, edges as filter text, each bin's label


def number_edges(kind: ValueKind, low: Any, high: Any) -> Edges | None:
    """Nice edges (1, 2 or 5 times a power of ten apart) strictly between the least and
    greatest value; floats written as repr writes them, so that they read back exactly."""
    if isinstance(low, bool) or isinstance(high, bool):
        return None
    try:
        lo, hi = decimal.Decimal(low), decimal.Decimal(high)
    except (TypeError, ValueError, decimal.InvalidOperation):
        return None
    if not (lo.is_finite() and hi.is_finite()):
        return None
    step = nice_step(lo, hi)
    if isinstance(kind, IntKind):
        step = max(step, decimal.Decimal(1))
    elif isinstance(kind, DecimalKind) and kind.scale is not None:
        step = max(step, decimal.Decimal(1).scaleb(-int(kind.scale)))
    inner: list[decimal.Decimal] = []
    if step > 0:
        edge = (lo / step).to_integral_value(rounding=decimal.ROUND_FLOOR) * step
        edge += step
        # Whole numbers one apart: the greatest gets a bin of its own, as every other does.
        ones = isinstance(kind, IntKind) and step == 1
        while (edge < hi or (ones and edge == hi)) and len(inner) <= 4 * TARGET_BINS:
            if edge > lo:
                inner.append(edge)
            edge += step
    is_float = isinstance(kind, FloatKind)

    def text(value: Any) -> str:
        if isinstance(value, decimal.Decimal):
            if is_float:
                return repr(float(value))
            if isinstance(kind, IntKind):
                return str(int(value))
            return _decimal_text(value)
        return repr(value) if isinstance(value, float) else key_text(value)

    edges = [text(low), *(text(edge) for edge in inner), text(high)]
    if is_float and len(edges) > 2 and len(set(edges)) != len(edges):
        return None
    labels = [
        edges[i] if isinstance(kind, IntKind) and step == 1 else f"{edges[i]} – {edges[i + 1]}"
        for i in range(len(edges) - 1)
    ]
    unit = _decimal_text(step) if step else "one value"
    return unit, edges, labels


def nice_step(low: decimal.Decimal, high: decimal.Decimal) -> decimal.Decimal:
    """The smallest of 1, 2 or 5 times a power of ten that splits low..high into at most
    TARGET_BINS bins; 0 for one value."""
    span = high - low
    if span <= 0:
        return decimal.Decimal(0)
    rough = span / TARGET_BINS
    power = decimal.Decimal(1).scaleb(rough.adjusted())
    for factor in (1, 2, 5, 10):
        step = power * factor
        if step >= rough:
            return step
    return power * 10


def _decimal_text(value: decimal.Decimal) -> str:
    """A decimal as plain digits where that is short (1E+1 reads 10), else as Python writes it."""
    if -30 < value.adjusted() < 30:
        return f"{value:f}"
    return str(value)


DATE_STEPS_YEARS = (2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def date_edges(low: Any, high: Any) -> Edges | None:
    """Edges at the start of each day, week (Monday), month or year, or of each 2, 5, 10,
    ... years, the unit chosen from the range so that there are at most about
    TARGET_BINS + 1 bins."""
    first: dt.date
    last: dt.date
    moment = isinstance(low, dt.datetime)
    if isinstance(low, dt.datetime) and isinstance(high, dt.datetime):
        first, last = low.date(), high.date()
    elif isinstance(low, dt.date) and type(high) is type(low) and not moment:
        first, last = low, high
    else:
        return None  # `infinity`, a zero date kept as text
    days = (last - first).days
    starts: list[dt.date]
    if days <= TARGET_BINS:
        unit, starts = "day", [first + dt.timedelta(days=n) for n in range(1, days + 1)]
    elif days <= 7 * TARGET_BINS:
        monday = first - dt.timedelta(days=first.weekday())
        count = days // 7 + 2
        unit, starts = "week", [monday + dt.timedelta(weeks=n) for n in range(1, count)]
    elif days <= 31 * TARGET_BINS:
        unit, starts = "month", _months(first, last)
    else:
        years = last.year - first.year
        step = (
            1
            if years <= TARGET_BINS
            else next((s for s in DATE_STEPS_YEARS if years / s <= TARGET_BINS), 10_000)
        )
        unit = "year" if step == 1 else f"{step} years"
        start = (first.year // step + 1) * step
        starts = [dt.date(year, 1, 1) for year in range(start, min(last.year, 9999) + 1, step)]
    inner = [start for start in starts if first < start <= last]
    if moment:
        zone = getattr(low, "tzinfo", None)
        inner_moments = [dt.datetime.combine(day, dt.time(), tzinfo=zone) for day in inner]
        inner_moments = [edge for edge in inner_moments if low < edge < high]
        inner = [edge.date() for edge in inner_moments]
        texts = [_moment_text(edge) for edge in inner_moments]
    else:
        texts = [day.isoformat() for day in inner]
    edges = [_moment_text(low), *texts, _moment_text(high)]
    bin_starts = [first, *inner]
    labels = [_date_label(day, unit) for day in bin_starts]
    return unit, edges, labels


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    out: list[dt.date] = []
    year, month = first.year, first.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if year > 9999 or dt.date(year, month, 1) > last:
            return out
        out.append(dt.date(year, month, 1))


def _moment_text(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value.isoformat()


def _date_label(day: dt.date, unit: str) -> str:
    if unit == "day":
        return day.isoformat()
    if unit == "week":
        return f"week of {(day - dt.timedelta(days=day.weekday())).isoformat()}"
    if unit == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if unit == "year":
        return f"{day.year:04d}"
    step = int(unit.split()[0])
    start = day.year // step * step
    return f"{max(start, 1):04d}–{start + step - 1:04d}"


__all__ = ["Bar", "ColumnStatistics", "column_statistics"]
