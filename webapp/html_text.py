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


def visible_controls(value: Any) -> Any:
    """`value` with each forbidden character written as its escape: plain text in text
    (escaped afterwards, so it is safe in attributes too), a marked span in markup that the
    app built (rows and cells, where data sits between tags). Anything else unchanged."""
    if not isinstance(value, str) or FORBIDDEN.search(value) is None:
        return value
    if isinstance(value, Markup):
        return Markup(FORBIDDEN.sub(_marked, value))
    return FORBIDDEN.sub(_escape, value)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _marked(match: re.Match[str]) -> str:
    return f'<span class="ctl">{_escape(match)}</span>'
