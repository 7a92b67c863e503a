"""Small pieces every page family needs."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from ..keys import DB_SESSION


async def connection(request: web.Request) -> AsyncConnection:
    """The request session's connection, for Core statements on hot read paths."""
    return await request[DB_SESSION].connection()
