"""Text as HTML may carry it: the control characters HTML forbids (C0 and C1 controls other
than tab, line feed, form feed and carriage return; lone surrogates; noncharacters) are
shown visibly escaped, as `\\x00`, instead of being written raw, where browsers drop or
replace them and a lone surrogate cannot even be encoded. Applied to every `{{ ... }}`
output of the templates (Jinja2's `finalize`), which includes the rows and cells that
rows_html builds, so there is one place for it."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

FORBIDDEN = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
# The check runs on every output, a table page's rows included, so it works on the UTF-8
# bytes, a few times faster than the regex: C0 controls and DEL are single bytes (deleted
# by bytes.translate, which then comes out shorter); the rest start with one of three
# lead bytes, found by memchr before a search for the exact sequences.
C0_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
WIDE_LEADS = (b"\xc2", b"\xed", b"\xef")
WIDE_FORBIDDEN = re.compile(
    rb"\xc2[\x80-\x9f]|\xed[\xa0-\xbf]|\xef\xb7[\x90-\xaf]|\xef\xbf[\xbe\xbf]"
)


def has_forbidden(text: str) -> bool:
    """Whether `text` holds a character HTML forbids (the same as FORBIDDEN.search)."""
    if text.isascii():
        data = text.encode("ascii")
        return len(data.translate(None, C0_BYTES)) != len(data)
    data = text.encode("utf-8", "surrogatepass")
    if len(data.translate(None, C0_BYTES)) != len(data):
        return True
    return any(lead in data for lead in WIDE_LEADS) and WIDE_FORBIDDEN.search(data) is not None


def visible_controls(value: Any) -> Any:
    """`value` with each forbidden character written as its escape: plain text in text
    (escaped afterwards, so it is safe in attributes too), a marked span in markup that the
    app built (rows and cells, where data sits between tags). Anything else unchanged."""
    if not isinstance(value, str) or not has_forbidden(value):
        return value
    if isinstance(value, Markup):
        return Markup(FORBIDDEN.sub(_marked, value))
    return FORBIDDEN.sub(_escape, value)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _marked(match: re.Match[str]) -> str:
    return f'<span class="ctl">{_escape(match)}</span>'
