"""The table page's rows as HTML, built here rather than in the template: it is the hottest
loop of the app (rows x columns on every page), and a Jinja2 macro or branch per cell cost
several times the whole database round trip. Every piece of data is escaped exactly as
markupsafe.escape would; the markup is the same as the `cell` macro in _macros.html."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from .fields import Cell

# The entities markupsafe.escape writes, applied with one C-level str.translate per value.
_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def escape(text: str) -> str:
    return text.translate(_ENTITIES)


MORE = '<span class="more" title="shortened; open the record for the whole value">…</span>'


def cells_html(cells: Sequence[Cell]) -> Markup:
    """One `<td>` per cell, as the `cell` macro would write it."""
    return Markup("".join([f'<td class="k-{cell.kind}">{_cell(cell)}</td>' for cell in cells]))


def _cell(cell: Cell) -> str:
    inner = _value(cell)
    if cell.href is None:
        return inner
    href = escape(cell.href)
    if cell.label is not None:
        label = escape(cell.label)
        return f'<a href="{href}" class="fk-label">{label}</a> <span class="fk-key">{inner}</span>'
    return f'<a href="{href}">{inner}</a>'


def _value(cell: Cell) -> str:
    kind = cell.kind
    if kind == "null":
        return '<span class="null">NULL</span>'
    if kind == "empty":
        return '<span class="empty" title="empty string">(empty)</span>'
    if kind == "error":
        return f'<span class="decode-error">{escape(cell.text)}</span>'
    more = MORE if cell.truncated else ""
    return f'<span class="v-{kind}">{escape(cell.text)}</span>{more}'
