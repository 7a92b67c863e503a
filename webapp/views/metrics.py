"""`/metrics`: the Prometheus text format, for a monitoring system. Not for everyone (route
names, traffic and failure counts tell an attacker much): a signed-in admin, a caller with
the bearer token `metrics.token`, or one from an address in `metrics.allow` may read it;
anyone else gets 401 (403 for a signed-in user who is not an admin)."""

from __future__ import annotations

import hmac

from aiohttp import web

from webapp.accounts.signin import session_user
from webapp.web.appkeys import SETTINGS
from webapp.web.errors import Forbidden, Unauthorized
from webapp.web.metrics import METRICS, content_type

METRICS_PATH = "/metrics"


async def metrics_page(request: web.Request) -> web.Response:
    await require_metrics_reader(request)
    body = request.app[METRICS].exposition()
    response = web.Response(body=body, headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = content_type()
    return response


async def require_metrics_reader(request: web.Request) -> None:
    """Let the caller through, or raise the refusal that says what would let it."""
    settings = request.app[SETTINGS].metrics
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, given = header.partition(" ")
        if (
            settings.token is not None
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), settings.token.encode())
        ):
            return
        raise Unauthorized("This metrics token is not the one configured (metrics.token).")
    if settings.allow and request.remote:
        try:
            from ipaddress import ip_address

            address = ip_address(request.remote)
        except ValueError:
            address = None
        if address is not None and any(address in network for network in settings.allow):
            return
    user = await session_user(request)
    if user is None:
        raise Unauthorized(
            "Sign in as an admin, send the metrics token (Authorization: Bearer <token>), "
            "or ask from an address in metrics.allow."
        )
    if user.role != "admin":
        raise Forbidden("Only an admin may read the metrics.")
