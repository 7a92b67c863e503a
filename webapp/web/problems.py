"""Errors for JSON clients: under `/api/` every refusal and failure is an
`application/problem+json` document (RFC 9457), never an HTML page."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

API_PREFIX = "/api/"
PROBLEM_TYPE = "application/problem+json"


def is_api(request: web.Request) -> bool:
    """Whether the request is the JSON API's (its answers, errors too, are JSON)."""
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def problem_response(
    status: int, title: str, detail: str, members: Mapping[str, Any] | None = None
) -> web.Response:
    """The problem document for `status`: `type` is left as `about:blank` (the status says
    what happened), `detail` the sentence a page would show; `members` add to it."""
    document: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    document["detail"] = detail
    for name, value in (members or {}).items():
        document.setdefault(name, value)
    return web.Response(
        status=status,
        body=json_bytes(document),
        content_type=PROBLEM_TYPE,
        charset="utf-8",
    )


def json_bytes(document: Any) -> bytes:
    """`document` as UTF-8 JSON; text holding a lone surrogate (which UTF-8 cannot hold:
    a client may send one as an escape) is written as escapes instead."""
    try:
        return json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(document, allow_nan=False).encode("ascii")
