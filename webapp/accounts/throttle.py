"""Failed sign-ins counted per user name and per client address in the database, so that
every server process sees the same count and a restart forgets nothing."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import delete, func, select

from .models import utc_now
from .store import Accounts


def subjects(username: str, address: str) -> tuple[str, str]:
    return f"user:{username.strip().lower()[:150]}", f"address:{address[:100]}"


async def throttled_for(accounts: Accounts, username: str, address: str) -> int | None:
    """Seconds until another try is allowed, when either the name or the address has failed
    too often within the window; None when a try is allowed now."""
    settings = accounts.settings
    Failure = accounts.models.login_failure
    since = utc_now() - dt.timedelta(seconds=settings.login_window)
    user_subject, address_subject = subjects(username, address)
    async with accounts.sessionmaker() as session:
        rows = (
            await session.execute(
                select(Failure.subject, func.count(), func.min(Failure.failed_at))
                .where(
                    Failure.subject.in_([user_subject, address_subject]),
                    Failure.failed_at > since,
                )
                .group_by(Failure.subject)
            )
        ).all()
    limits = {
        user_subject: settings.max_failures_per_user,
        address_subject: settings.max_failures_per_address,
    }
    waits = [
        max(1, math.ceil((oldest - since).total_seconds()))
        for subject, count, oldest in rows
        if count >= limits[subject]
    ]
    return max(waits) if waits else None


async def record_failure(accounts: Accounts, username: str, address: str) -> None:
    """Count one failure against the name and the address; forget ones past the window."""
    Failure = accounts.models.login_failure
    now = utc_now()
    expired = now - dt.timedelta(seconds=accounts.settings.login_window)
    user_subject, address_subject = subjects(username, address)
    async with accounts.sessionmaker() as session, session.begin():
        await session.execute(
            delete(Failure).where(
                Failure.subject.in_([user_subject, address_subject]), Failure.failed_at <= expired
            )
        )
        session.add_all(
            [
                Failure(subject=user_subject, failed_at=now),
                Failure(subject=address_subject, failed_at=now),
            ]
        )


async def clear_failures(accounts: Accounts, username: str) -> None:
    """A successful sign-in forgives the name's failures (not the address's)."""
    Failure = accounts.models.login_failure
    user_subject, _ = subjects(username, "")
    async with accounts.sessionmaker() as session, session.begin():
        await session.execute(delete(Failure).where(Failure.subject == user_subject))
