"""What a database failure means for the request that met it: the database cannot answer
right now (a 503 to try again), as opposed to a refusal of what the user asked."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from webapp.database.dialects import is_timeout


def is_unavailable(exc: BaseException) -> bool:
    """Whether an exception means the database cannot answer right now: it cannot be
    reached, a lock was held past its limit, or a statement was cut at its time limit (a
    503 to try again, never a refusal of the user's input)."""
    if isinstance(exc, PoolTimeoutError | ConnectionError | TimeoutError):
        return True
    if is_timeout(exc):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        message = str(exc.orig if exc.orig is not None else exc).lower()
        return any(
            marker in message
            for marker in (
                "can't connect",
                "connection refused",
                "lost connection",
                "server has gone away",
                "connection was closed",
                "connection is closed",
                "connect call failed",
                "timeout",
                "timed out",
                "terminating connection",
                "the database system is",
                "not connected",
                # SQLite: another program held the write lock past the busy timeout.
                "database is locked",
            )
        )
    return isinstance(exc, OSError)
