"""Who is asking and what they may do: the one place handlers ask. Every page except the
sign-in pages and static files needs a signed-in user; roles rank viewer < editor < admin.

Per-request cost: the encrypted session cookie carries the user id, the user's session
version and the last-seen time; the user's role, disabled flag and session version come from
a per-process cache kept for a few seconds (`UserStateCache`), so most requests run no users
query. Logout, disable and password change bump the session version in the database, which
ends old cookies at once in this process and within the cache's few seconds elsewhere."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from aiohttp import web
from aiohttp_session import Session, get_session

from webapp.accounts.store import ROLES, UserState
from webapp.schema.catalog import Catalog, TableInfo
from webapp.web.appkeys import ACCOUNTS, ROLE_CATALOGS, SETTINGS
from webapp.web.csrf import csrf_token
from webapp.web.errors import Forbidden, Handler

RANK = {role: rank for rank, role in enumerate(ROLES)}
WRITE_ROLE = "editor"  # the lowest role that may change rows (where the table allows it)
SEEN_REFRESH_SECONDS = 60
PUBLIC_PREFIXES = ("/static/", "/login/token/")
PUBLIC_PATHS = frozenset({"/login"})
PASSWORD_PAGE = "/account/password"
# Why a session ended, as the sign-in page's `expired` parameter says it.
IDLE = "1"
TOO_OLD = "age"

CURRENT_USER = web.RequestKey("current_user", UserState)


@dataclass(frozen=True)
class SessionFields:
    user_id: str = "uid"
    session_version: str = "sv"
    last_seen: str = "seen"
    signed_in_at: str = "since"


FIELDS = SessionFields()


def current_user(request: web.Request) -> UserState | None:
    """The signed-in user of this request, or None (on the public pages)."""
    return request.get(CURRENT_USER)


def has_role(user: UserState | None, role: str) -> bool:
    """Whether `user` holds `role` or a higher one."""
    return user is not None and RANK.get(user.role, -1) >= RANK[role]


def require_role(request: web.Request, role: str) -> UserState:
    """The signed-in user if they hold `role` or a higher one; Forbidden otherwise."""
    user = current_user(request)
    if not has_role(user, role):
        raise Forbidden(f"This needs the {role} role.")
    assert user is not None
    return user


def request_catalog(request: web.Request) -> Catalog:
    """The tables, columns and relations the signed-in user's role may see: what every page
    reads instead of the whole catalog, so a hidden table or column is on none of them."""
    user = current_user(request)
    if user is None:
        raise Forbidden("Sign in first.")
    return request.app[ROLE_CATALOGS][user.role]


def sign_in(session: Session, user_id: int, session_version: int) -> None:
    """Fill a fresh session (from aiohttp_session.new_session) for a user who just proved
    who they are."""
    session[FIELDS.user_id] = user_id
    session[FIELDS.session_version] = session_version
    session[FIELDS.last_seen] = session[FIELDS.signed_in_at] = int(now())
    csrf_token(session)


def now() -> float:
    """The clock sessions are measured by (tests move it)."""
    return time.time()


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def safe_next(target: str | None) -> str:
    """A local path to return to after sign-in; anything else (another site, `//host`,
    backslashes, control characters) becomes `/`."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)
    ):
        return "/"
    return target


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the request's user; send anonymous page views to the sign-in page and refuse
    anonymous writes."""
    if is_public(request.path):
        return await handler(request)
    session = await get_session(request)
    user, ended = await _session_user(request, session)
    if user is None:
        if request.method in ("GET", "HEAD"):
            query = {"next": request.path_qs}
            if ended is not None:
                query["expired"] = ended
            raise web.HTTPFound("/login?" + urlencode(query, quote_via=quote))
        raise Forbidden("Sign in first.")
    request[CURRENT_USER] = user
    if not user.has_password and request.path not in (PASSWORD_PAGE, "/logout"):
        if request.method in ("GET", "HEAD"):
            raise web.HTTPFound(PASSWORD_PAGE)
        raise Forbidden("Choose a password first.")
    return await handler(request)


async def _session_user(
    request: web.Request, session: Session
) -> tuple[UserState | None, str | None]:
    """The session's user, if it names one that still may sign in, has not been idle too
    long and is younger than `auth.max_session_age` (counted from its sign-in, written in
    the session by the server, so a kept cookie cannot outlive it); and, for a session that
    ended for its time, why: `1` idle, `age` too old."""
    user_id = session.get(FIELDS.user_id)
    if not isinstance(user_id, int):
        return None, None
    moment = now()
    seen = session.get(FIELDS.last_seen)
    since = session.get(FIELDS.signed_in_at)
    auth = request.app[SETTINGS].auth
    if not isinstance(seen, int | float) or moment - seen > auth.idle_timeout:
        session.invalidate()
        return None, IDLE
    if not isinstance(since, int | float) or moment - since > auth.max_session_age:
        session.invalidate()
        return None, TOO_OLD
    state = await request.app[ACCOUNTS].state(user_id)
    if (
        state is None
        or state.disabled
        or state.session_version != session.get(FIELDS.session_version)
    ):
        session.invalidate()
        return None, None
    if moment - seen >= SEEN_REFRESH_SECONDS:
        session[FIELDS.last_seen] = int(moment)
    return state, None


def write_refusal(request: web.Request, info: TableInfo) -> str | None:
    """The gate for writes: why the signed-in user may not create, edit, delete or revert
    rows of `info`, or None when they may. It combines two facts: the table's own
    (`TableInfo.read_only_reason`: a view, no primary key, read-only by configuration for
    everyone or for this role) and the user's role (WRITE_ROLE or higher). Every write
    handler asks it, through `require_write`, before it reads the form or writes; the table
    and record pages ask it to offer or explain the buttons. The write functions
    (webapp.changes.writes) check only the columns a write sets."""
    if info.read_only_reason:
        return info.read_only_reason
    user = current_user(request)
    if not has_role(user, WRITE_ROLE):
        role = user.role if user is not None else "anonymous"
        return f"Your role ({role}) can view records but not change them."
    return None


def require_write(request: web.Request, info: TableInfo) -> None:
    """Forbidden, with the gate's reason, unless `write_refusal` lets the user change rows
    of `info`."""
    reason = write_refusal(request, info)
    if reason is not None:
        raise Forbidden(reason)
