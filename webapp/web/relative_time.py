"""Moments said the way people read them on a log ("3 minutes ago", "yesterday", a date for
older ones), in a `<time>` element whose `datetime` and `title` keep the exact moment.
Written by the server, so the pages need no script; calendar days are counted in UTC, the
zone every page states its times in. A naive moment is read as UTC (the app stores its own
times that way)."""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup, escape

from webapp import clock

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK_DAYS = 7
JUST_NOW_SECONDS = 10


def relative_time(moment: dt.datetime, now: dt.datetime) -> str:
    """`moment` as seen from `now`: seconds, minutes or hours within a day, then
    "yesterday" / "tomorrow", then days within a week, else the date (UTC). Either may be
    naive (UTC) or aware."""
    moment_utc, now_utc = as_utc(moment), as_utc(now)
    seconds = (now_utc - moment_utc).total_seconds()
    future = seconds < 0
    distance = abs(seconds)
    if distance < JUST_NOW_SECONDS:
        return "just now"
    if distance < DAY:
        if distance < MINUTE:
            amount, unit = int(distance), "second"
        elif distance < HOUR:
            amount, unit = int(distance // MINUTE), "minute"
        else:
            amount, unit = int(distance // HOUR), "hour"
        return _distance(amount, unit, future)
    days = abs((now_utc.date() - moment_utc.date()).days)
    if days == 1:
        return "tomorrow" if future else "yesterday"
    if days < WEEK_DAYS:
        return _distance(days, "day", future)
    return moment_utc.date().isoformat()


def as_utc(moment: dt.datetime) -> dt.datetime:
    """An aware moment in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def machine_time(moment: dt.datetime) -> str:
    """The exact moment for `<time datetime>`: ISO 8601 with its fraction, `Z` for UTC (and
    for a naive moment), else its own offset."""
    if moment.tzinfo is None or moment.utcoffset() == dt.timedelta(0):
        return moment.replace(tzinfo=None).isoformat() + "Z"
    return moment.isoformat()


def exact_time(moment: dt.datetime) -> str:
    """The exact moment for people (the tooltip): `2024-02-29 23:59:59.123456 UTC`."""
    if moment.tzinfo is None or moment.utcoffset() == dt.timedelta(0):
        return moment.replace(tzinfo=None).isoformat(sep=" ") + " UTC"
    return moment.isoformat(sep=" ")


def time_element(moment: dt.datetime, now: dt.datetime) -> Markup:
    """`<time>` saying `moment` relative to `now`, with the exact moment in `datetime` and
    `title`."""
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        machine_time(moment), exact_time(moment), escape(relative_time(moment, now))
    )


def time_ago(moment: dt.datetime | None) -> Markup:
    """`time_element` as of the app's clock now (the templates' `time_ago`); nothing for
    no moment."""
    if moment is None:
        return Markup("")
    return time_element(moment, clock.utc_now_precise())


def _distance(amount: int, unit: str, future: bool) -> str:
    words = f"{amount} {unit}{'' if amount == 1 else 's'}"
    return f"in {words}" if future else f"{words} ago"
