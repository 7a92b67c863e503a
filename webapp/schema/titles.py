"""Readable titles for column names, as headings and facets show them: `author_id` reads
"Author", `created_at` "Created at". The raw name stays beside the title (in a `title`
attribute) because it is what filters, sorts and SQL use."""

from __future__ import annotations

import re

__all__ = ["column_title"]

# Words shown in capitals wherever they stand in a name.
ACRONYMS = frozenset({"id", "ip", "url", "uri", "uuid", "isbn", "json", "sql", "html", "api"})
# A foreign key's trailing key marker (`author_id`, `authorId`): the title names what the
# key points to.
KEY_SUFFIX = re.compile(r"(?<=[a-z0-9])(?:_id|Id|_ID)$")
WORD_BREAK = re.compile(r"[_\-\s]+|(?<=[a-z0-9])(?=[A-Z])")


def column_title(name: str, *, reference: bool = False) -> str:
    """`name` as words with a capital first letter; a `reference` (a foreign key's column)
    loses its key suffix. A name with no letters is returned as it is."""
    stem = KEY_SUFFIX.sub("", name) if reference else name
    words = [w for w in WORD_BREAK.split(stem) if w]
    if not words or not any(c.isalpha() for c in stem):
        return name
    shown = [w.upper() if w.lower() in ACRONYMS else w.lower() if w.istitle() else w for w in words]
    first = shown[0]
    shown[0] = first[:1].upper() + first[1:]
    return " ".join(shown)
