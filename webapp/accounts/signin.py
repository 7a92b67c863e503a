"""Who is asking (authentication): the sign-in middleware, the current user, and the
pages anyone may open. Every page except the sign-in pages and static files needs a
signed-in user; what that user may do is webapp.accounts.roles's concern.

Per-request cost: the encrypted session cookie carries the user id, the user's session
version and the last-seen time; the user's role, disabled flag and session version come from
a per-process cache kept for a few seconds (`Accounts.states`), so most requests run no
users query. Logout, disable and password change bump the session version in the database,
which ends old cookies at once in this process and within the cache's few seconds
elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from aiohttp import web
from aiohttp_session import Session, get_session

from webapp import clock
from webapp.accounts.api_tokens import token_user
from webapp.accounts.store import UserState
from webapp.web.appkeys import ACCOUNTS, BEARER, CURRENT_USER, SETTINGS
from webapp.web.csrf import csrf_token
from webapp.web.errors import Forbidden, Handler, Unauthorized
from webapp.web.problems import is_api

SEEN_REFRESH_SECONDS = 60
PUBLIC_PREFIXES = ("/static/", "/login/token/")
# The health checks answer balancers, which never sign in.
# /metrics checks its own callers (a token, an address list or an admin session).
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/readyz", "/metrics"})
PASSWORD_PAGE = "/account/password"
# Why a session ended, as the sign-in page's `expired` parameter says it.
IDLE = "1"
TOO_OLD = "age"


@dataclass(frozen=True)
class SessionFields:
    """The names of the values sign-in keeps in the session cookie."""

    user_id: str = "uid"
    session_version: str = "sv"
    last_seen: str = "seen"
    signed_in_at: str = "since"


FIELDS = SessionFields()


def current_user(request: web.Request) -> UserState | None:
    """The signed-in user of this request, or None (on the public pages)."""
    return request.get(CURRENT_USER)


def sign_in(session: Session, user_id: int, session_version: int) -> None:
    """Fill a fresh session (from aiohttp_session.new_session) for a user who just proved
    who they are."""
    session[FIELDS.user_id] = user_id
    session[FIELDS.session_version] = session_version
    session[FIELDS.last_seen] = session[FIELDS.signed_in_at] = int(clock.now())
    csrf_token(session)


async def session_user(request: web.Request) -> UserState | None:
    """The user the session cookie signs in, on a public page that wants to know (the
    sign-in middleware leaves public pages alone)."""
    user, _ = await _session_user(request, await get_session(request))
    return user


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
async def signin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the request's user; send anonymous page views to the sign-in page and refuse
    anonymous writes."""
    if is_public(request.path):
        return await handler(request)
    api = is_api(request)
    if api and "Authorization" in request.headers:
        request[CURRENT_USER] = await _bearer_user(request)
        request[BEARER] = True
        return await handler(request)
    session = await get_session(request)
    user, ended = await _session_user(request, session)
    if user is None:
        if api:
            raise Unauthorized("Sign in, or send an API token (Authorization: Bearer <token>).")
        if request.method in ("GET", "HEAD"):
            query = {"next": request.path_qs}
            if ended is not None:
                query["expired"] = ended
            raise web.HTTPFound("/login?" + urlencode(query, quote_via=quote))
        raise Forbidden("Sign in first.")
    request[CURRENT_USER] = user
    if not user.has_password and request.path not in (PASSWORD_PAGE, "/logout"):
        if request.method in ("GET", "HEAD") and not api:
            raise web.HTTPFound(PASSWORD_PAGE)
        raise Forbidden("Choose a password first.")
    return await handler(request)


async def _bearer_user(request: web.Request) -> UserState:
    """The user an `Authorization: Bearer` token acts as; Unauthorized for any other
    scheme, or a token that is unknown, revoked or expired, or whose user is disabled."""
    scheme, _, token = request.headers["Authorization"].partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an API token as Authorization: Bearer <token>.")
    user = await token_user(request.app[ACCOUNTS], token.strip())
    if user is None:
        raise Unauthorized(
            "This API token is unknown, revoked or expired, or its user is disabled."
        )
    return user


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
    moment = clock.now()
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
