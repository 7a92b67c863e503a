"""The one clock the app reads for wall time: session ages, token expiry, throttling windows
and audit entries. Tests move it by replacing `now`; the other functions follow."""

from __future__ import annotations

import datetime as dt
import time


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def utc_now() -> dt.datetime:
    """Naive UTC to the second, the form every backend stores alike."""
    return utc_now_precise().replace(microsecond=0)


def utc_now_precise() -> dt.datetime:
    """Naive UTC with microseconds, for what must keep its order within one second."""
    return dt.datetime.fromtimestamp(now(), dt.UTC).replace(tzinfo=None)
