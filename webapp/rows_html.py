"""The table page's rows as HTML, built here rather than in the template: it is the hottest
loop of the app (rows x columns on every page), and a Jinja2 macro or branch per cell cost
several times the whole database round trip. Every piece of data is escaped exactly as
markupsafe.escape would; the markup is the same as the `cell` macro in _macros.html."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from .fields import PREVIEW_CHARS, Cell
from .queries import ListPlan

# The entities markupsafe.escape writes, applied with one C-level str.translate per value.
_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def escape(text: str) -> str:
    return text.translate(_ENTITIES)


MORE = '<span class="more" title="shortened; open the record for the whole value">…</span>'


NULL_TD = '<td class="k-null"><span class="null">NULL</span></td>'


def row_cells_html(
    plan: ListPlan, row: Sequence[Any], links: dict[int, tuple[str, str | None]]
) -> Markup:
    """One `<td>` per listed column of a fetched row; `links` gives, by column position, the
    href (and label) of a foreign-key cell. Whole numbers, short text and NULL in a plain
    column are written directly; everything else goes through the column's Cell."""
    parts: list[str] = []
    for index, (start, end, show, plain) in enumerate(plan.readers):
        value = row[start]
        link = links.get(index)
        if plain and link is None:
            kind = type(value)
            if value is None:
                parts.append(NULL_TD)
                continue
            if kind is int:
                parts.append(f'<td class="k-number"><span class="v-number">{value}</span></td>')
                continue
            if kind is str and value and len(value) <= PREVIEW_CHARS:
                parts.append(f'<td class="k-text"><span class="v-text">{escape(value)}</span></td>')
                continue
        cell = show(row[start:end])
        if link is not None:
            cell = Cell(cell.kind, cell.text, cell.truncated, link[0], link[1])
        parts.append(f'<td class="k-{cell.kind}">{_cell(cell)}</td>')
    return Markup("".join(parts))


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
