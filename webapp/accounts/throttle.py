"""Failed sign-ins counted in the database, so that every server process sees the same count
and a restart forgets nothing.

The policy: a user name is throttled from one client address after
`max_failures_per_user` failures (so a stranger guessing cannot lock its owner out, who signs
in from another address), every user name after `max_failures_per_user_total` failures from
all addresses together (a ceiling against guessing spread over many addresses), and an
address after `max_failures_per_address` failures for any names.

An attempt is counted before its password is checked: it is written as a failure first and
the failures are counted after, so of any number of concurrent attempts at most the limit's
number see a count within the limit and reach the (slow, memory-hungry) password hash. An
attempt refused that way is taken back, and one that succeeds is too."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import case, delete, func, or_, select

from webapp.accounts.store import Accounts
from webapp.clock import utc_now

NAME_CHARS = 140
ADDRESS_CHARS = 45  # the longest IPv6 text; a pair subject then fits the column's 200


@dataclass(frozen=True)
class Subjects:
    """What failures are counted against: the name from this address, the name from any
    address, and the address."""

    pair: str
    user: str
    address: str


def subjects(username: str, address: str) -> Subjects:
    user = f"user:{username.strip().lower()[:NAME_CHARS]}"
    return Subjects(
        pair=f"from:{address[:ADDRESS_CHARS]} {user}",
        user=user,
        address=f"address:{address[:ADDRESS_CHARS]}",
    )


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt counted as a failure until it is known to be something else."""

    subjects: Subjects
    row_ids: tuple[int, ...]


async def begin_attempt(accounts: Accounts, username: str, address: str) -> Attempt | int:
    """Count this attempt, then decide: the Attempt when the password may be checked, or the
    seconds until another try is allowed. Counting after writing means two concurrent
    attempts each see the other's row (whichever commits first), so they cannot both slip
    under the limit. A name or address already past its limit is refused by a read alone,
    so a flood of refused attempts writes nothing."""
    settings = accounts.settings
    Failure = accounts.models.login_failure
    now = utc_now()
    since = now - dt.timedelta(seconds=settings.login_window)
    names = subjects(username, address)
    limits = (
        (names.pair, settings.max_failures_per_user),
        (names.user, settings.max_failures_per_user_total),
        (names.address, settings.max_failures_per_address),
    )
    wait = await _wait(accounts, limits, since, including_this_attempt=False)
    if wait is not None:
        return wait
    async with accounts.sessionmaker() as session, session.begin():
        rows = [Failure(subject=subject, failed_at=now) for subject, _ in limits]
        session.add_all(rows)
        await session.flush()
        attempt = Attempt(names, tuple(row.id for row in rows))
    wait = await _wait(accounts, limits, since, including_this_attempt=True)
    if wait is None:
        return attempt
    await forget_attempt(accounts, attempt)
    return wait


async def _wait(
    accounts: Accounts,
    limits: tuple[tuple[str, int], ...],
    since: dt.datetime,
    *,
    including_this_attempt: bool,
) -> int | None:
    """Seconds until the oldest failure of a subject past its limit leaves the window, or
    None when every subject is within its limit. One conditional count per subject, compared
    in the database: under a case- or accent-insensitive collation (MariaDB) other spellings
    of a name count as this one, and no answer is looked up by the spelling the database
    returns."""
    Failure = accounts.models.login_failure
    columns = []
    for subject, _ in limits:
        mine = Failure.subject == subject
        columns += [func.count(case((mine, 1))), func.min(case((mine, Failure.failed_at)))]
    async with accounts.sessionmaker() as session:
        found = (
            await session.execute(
                select(*columns).where(
                    or_(*(Failure.subject == subject for subject, _ in limits)),
                    Failure.failed_at > since,
                )
            )
        ).one()
    allowed = 0 if including_this_attempt else 1  # failures the attempt itself may add
    waits = [
        max(1, math.ceil((found[2 * index + 1] - since).total_seconds()))
        for index, (_, limit) in enumerate(limits)
        if found[2 * index] + allowed > limit
    ]
    return max(waits) if waits else None


async def forget_attempt(accounts: Accounts, attempt: Attempt) -> None:
    """Take an attempt back: it was refused before the password was checked, or the check
    could not run."""
    Failure = accounts.models.login_failure
    async with accounts.sessionmaker() as session, session.begin():
        await session.execute(delete(Failure).where(Failure.id.in_(attempt.row_ids)))


async def attempt_failed(accounts: Accounts, attempt: Attempt) -> None:
    """The password was wrong: the attempt stays counted; failures past the window of its
    subjects are forgotten."""
    Failure = accounts.models.login_failure
    expired = utc_now() - dt.timedelta(seconds=accounts.settings.login_window)
    names = attempt.subjects
    async with accounts.sessionmaker() as session, session.begin():
        await session.execute(
            delete(Failure).where(
                Failure.subject.in_([names.pair, names.user, names.address]),
                Failure.failed_at <= expired,
            )
        )


async def attempt_succeeded(accounts: Accounts, attempt: Attempt) -> None:
    """A successful sign-in is no failure, and it forgives the name's failures (in total and
    from this address; not the address's own, nor the name's from other addresses)."""
    Failure = accounts.models.login_failure
    names = attempt.subjects
    async with accounts.sessionmaker() as session, session.begin():
        await session.execute(
            delete(Failure).where(
                or_(
                    Failure.id.in_(attempt.row_ids),
                    Failure.subject.in_([names.user, names.pair]),
                )
            )
        )
