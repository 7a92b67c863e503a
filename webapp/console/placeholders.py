"""`:name` parameters in a console statement: found outside string literals, quoted names
and comments, and bound as values, never pasted into the SQL. A colon that is no parameter
(`'10:30'`, PostgreSQL's `::int`) is escaped, so SQLAlchemy's text() binds exactly the
parameters found here and nothing else."""

from __future__ import annotations

import re
from dataclasses import dataclass

# What is skipped whole: quoted text and names, comments; then a parameter or a colon run.
_TOKEN = re.compile(
    r"""
    (?P<skip>'(?:[^'\\]|\\.|'')*'?          # 'text', with '' or \' inside
      | "(?:[^"]|"")*"?                     # "name"
      | `(?:[^`]|``)*`?                     # `name`
      | --[^\n]*                            # line comment
      | \#[^\n]*                            # MySQL line comment
      | /\*.*?(?:\*/|\Z)                    # block comment
      | \$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|\Z)  # PostgreSQL $tag$ text $tag$
    )
    | (?P<param>(?<![\w:]):[A-Za-z_]\w*)(?!:)
    | (?P<colon>:)
    """,
    re.VERBOSE | re.DOTALL,
)
MAX_PARAMETERS = 50


@dataclass(frozen=True)
class Placeholders:
    """A statement's parameters, in order of first use, and its text for SQLAlchemy's
    text(): parameters as `:name`, every other colon escaped."""

    names: tuple[str, ...]
    bindable: str


def find_placeholders(sql: str) -> Placeholders:
    """The `:name` parameters of `sql` (at most MAX_PARAMETERS are asked for)."""
    names: list[str] = []
    parts: list[str] = []
    position = 0
    for match in _TOKEN.finditer(sql):
        parts.append(sql[position : match.start()])
        position = match.end()
        piece = match.group(0)
        if match.group("param") is not None:
            name = piece[1:]
            if name not in names:
                names.append(name)
            parts.append(piece)
        elif match.group("colon") is not None:
            parts.append("\\:")
        else:
            parts.append(piece.replace(":", "\\:"))
    parts.append(sql[position:])
    return Placeholders(tuple(names[:MAX_PARAMETERS]), "".join(parts))
