"""Every request gets an id, sent back as `X-Request-ID` (a sane one the client or the proxy in
front sent is kept, so one id follows a request through the balancer, the app and its logs),
and, with `server.access_log` set to `plain` or `json`, one line in the `webapp.access` log
after its answer: who (client address, signed-in user), what, the status, the size and the
time taken."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from aiohttp import web

from webapp.web.appkeys import CURRENT_USER
from webapp.web.errors import AppError, Handler

REQUEST_ID_HEADER = "X-Request-ID"
# What an incoming id may be: short, and nothing a log line or a header could be bent by.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
# What the access line knows of the request, shared with the inner request objects (a
# trusted proxy's middleware hands the handlers a clone whose state is a copy of this
# request's, so this dict is the same object in both).
REQUEST_NOTES = web.RequestKey("request_notes", dict)

access_log = logging.getLogger("webapp.access")


def configure_access_log(mode: str) -> None:
    """Where a serving process writes its access lines: standard output, one line each and
    nothing else on it (a JSON line stays a JSON line), apart from the app's other logs."""
    if mode == "off" or any(getattr(h, "access_lines", False) for h in access_log.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.access_lines = True  # type: ignore[attr-defined]
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False


def loggable(text: str) -> str:
    """Text from a client (a user name) as it goes into a log line: quoted, escaped, short,
    so it cannot start a line of its own or pose as another field."""
    return json.dumps(text[:100], ensure_ascii=True)


def request_id(request: web.Request) -> str:
    """This request's id (the one in `X-Request-ID`)."""
    notes = request.get(REQUEST_NOTES)
    return str(notes["id"]) if notes is not None else "-"


def request_log_middleware(mode: str) -> Any:
    """The outermost middleware: give the request its id, and write its access line when
    `mode` is `plain` or `json` (none for `off`)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        notes: dict[str, Any] = {
            "id": given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex,
            "remote": request.remote,
            "user": None,
        }
        request[REQUEST_NOTES] = notes
        if mode == "off":
            return await handler(request)
        started = time.perf_counter()
        status, size = 500, 0
        try:
            response = await handler(request)
            status, size = response.status, body_size(response)
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except AppError as exc:
            status = exc.status
            raise
        finally:
            entry = access_entry(request, notes, status, size, time.perf_counter() - started)
            access_log.info(json.dumps(entry) if mode == "json" else plain_line(entry))

    return middleware


def body_size(response: web.StreamResponse) -> int:
    """Bytes of the body: what a streamed answer wrote, or the size of one not sent yet."""
    if response.body_length:
        return response.body_length
    if isinstance(response, web.Response) and isinstance(response.body, bytes | bytearray):
        return len(response.body)
    return 0


@web.middleware
async def client_note_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Right after the trusted proxies' middleware: note the real client's address."""
    notes = request.get(REQUEST_NOTES)
    if notes is not None:
        notes["remote"] = request.remote
    return await handler(request)


@web.middleware
async def user_note_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After sign-in: note who is signed in."""
    notes = request.get(REQUEST_NOTES)
    user = request.get(CURRENT_USER)
    if notes is not None and user is not None:
        notes["user"] = user.username
    return await handler(request)


async def add_request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer, error pages and redirects too, names its id."""
    notes = request.get(REQUEST_NOTES)
    if notes is not None:
        response.headers[REQUEST_ID_HEADER] = str(notes["id"])


def access_entry(
    request: web.Request, notes: dict[str, Any], status: int, size: int, seconds: float
) -> dict[str, Any]:
    """What the access line says of one request (a JSON line holds exactly this)."""
    return {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "request_id": notes["id"],
        "remote": notes["remote"],
        "user": notes["user"],
        "method": request.method,
        "path": request.path_qs,
        "status": status,
        "bytes": size,
        "duration_ms": round(seconds * 1000, 2),
        "user_agent": request.headers.get("User-Agent", ""),
    }


def plain_line(entry: dict[str, Any]) -> str:
    """The same in the common log format's order, with the duration and id at the end;
    the path and user agent quoted as JSON strings, so no byte of theirs breaks the line."""
    agent = json.dumps(entry["user_agent"], ensure_ascii=True)
    path = json.dumps(entry["path"], ensure_ascii=True)[1:-1]
    return (
        f"{entry['remote'] or '-'} - {entry['user'] or '-'} [{entry['time']}] "
        f'"{entry["method"]} {path}" {entry["status"]} {entry["bytes"]} '
        f"{entry['duration_ms']}ms id={entry['request_id']} {agent}"
    )
