"""A bound on the time a client may take to send a request body, so that a client trickling
one byte a minute cannot hold a connection (and whatever the handler holds while it waits)
for ever. aiohttp's server has no such timeout of its own."""

from __future__ import annotations

import asyncio

from aiohttp import web

from webapp.web.appkeys import SETTINGS
from webapp.web.errors import Handler, SlowRequest


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the body `server.body_timeout` seconds from the moment the headers arrived; a
    body still incomplete then makes every read of it raise SlowRequest (a 408 page, and the
    connection is closed). The body is still read only when and as far as the handler asks."""
    if not request.body_exists:
        return await handler(request)
    seconds = request.app[SETTINGS].body_timeout
    payload = request.content

    def expire() -> None:
        if not payload.is_eof():
            payload.set_exception(
                SlowRequest(f"The request took longer than {seconds:g} seconds to arrive.")
            )

    timer = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        return await handler(request)
    finally:
        timer.cancel()
