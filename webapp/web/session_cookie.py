"""The session cookie, named and flagged per request: over HTTPS it is `Secure` and named
with the `__Host-` prefix (which browsers accept only from a secure origin, for the whole
host, never a parent domain), so a cookie set over plain HTTP or by a sibling subdomain can
never stand in for it; over plain HTTP (local use) it keeps the plain name."""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import Session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

SESSION_COOKIE = "webapp_session"
SECURE_PREFIX = "__Host-"


def session_cookie_name(request: web.BaseRequest) -> str:
    """The session cookie's name for this request's scheme."""
    return SECURE_PREFIX + SESSION_COOKIE if request.secure else SESSION_COOKIE


class SessionCookieStorage(EncryptedCookieStorage):
    """Encrypted cookie sessions whose cookie name and `Secure` flag follow the request."""

    def load_cookie(self, request: web.Request) -> str | None:
        return request.cookies.get(session_cookie_name(request))

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        name = session_cookie_name(request)
        params = self.cookie_params.copy()
        params["secure"] = request.secure or None
        if session.empty:
            response.del_cookie(
                name, domain=params["domain"], path=params["path"], secure=request.secure
            )
            return
        data = self._encoder(self._get_session_data(session)).encode("utf-8")
        response.set_cookie(name, self._fernet.encrypt(data).decode("utf-8"), **params)
