"""The real client behind a reverse proxy. Only a peer listed in `server.trusted_proxies`
may say, in `X-Forwarded-For` / `X-Forwarded-Proto` (read by aiohttp-remotes) or
`Forwarded` (RFC 7239, parsed by aiohttp), which address and scheme the client used; from
anyone else those headers are ignored. So the sign-in throttle counts per real client, the
audit trail names it, and the session cookie is `Secure` when the client spoke HTTPS."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from aiohttp import hdrs, web
from aiohttp_remotes import XForwardedFiltered

from webapp.web.errors import Handler

Network = IPv4Network | IPv6Network


class TrustedProxies:
    """A middleware that takes the client's address and scheme from a trusted proxy's
    headers: walking the forwarded chain from the nearest hop, the first address that is not
    itself a trusted proxy is the client's."""

    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = tuple(networks)
        self._x_forwarded = XForwardedFiltered(set(self.networks))

    def trusts(self, address: object) -> bool:
        try:
            parsed = ip_address(str(address))
        except ValueError:  # a Unix socket's path, an obfuscated Forwarded node
            return False
        return any(parsed in network for network in self.networks)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if not peer or not self.trusts(peer[0]):
            return await handler(request)
        if hdrs.X_FORWARDED_FOR in request.headers:
            return await self._x_forwarded.middleware(request, handler)
        if hdrs.FORWARDED in request.headers:
            return await handler(self._from_forwarded(request))
        return await handler(request)

    def _from_forwarded(self, request: web.Request) -> web.Request:
        """The request as the first untrusted hop of `Forwarded` saw it."""
        overrides: dict[str, Any] = {}
        for element in reversed(request.forwarded):
            address = str(element.get("for", "")).strip("[]")
            proto = element.get("proto")
            if proto in ("http", "https"):
                overrides["scheme"] = proto
            if address and not self.trusts(address):
                if _is_address(address):  # not `unknown` or an obfuscated name
                    overrides["remote"] = address
                break
        return request.clone(**overrides) if overrides else request


def _is_address(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True
