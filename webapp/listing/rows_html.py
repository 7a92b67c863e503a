"""The table page's rows as HTML, built here rather than in the template: it is the hottest
loop of the app (rows x columns on every page), and a Jinja2 loop, macro or branch per cell
cost several times the whole database round trip. A `RowsWriter` is worked out once per
table and plan (which column sits where, how each is shown, where its links go) and then
writes each page's rows with one small function call per cell. Every piece of data is
escaped exactly as markupsafe.escape would; the markup is the same as the `cell` macro in
_macros.html."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from sqlalchemy import Column

from webapp.listing.queries import ListPlan
from webapp.schema.catalog import TableInfo
from webapp.schema.labels import label_text
from webapp.values import PREVIEW_CHARS, Cell, key_text, kind_for
from webapp.web.urls import key_segment, record_url_prefix

try:  # markupsafe's own C escape, without making a Markup per value
    from markupsafe._speedups import _escape_inner as escape
except ImportError:  # pragma: no cover - markupsafe built without its C speedups

    def escape(text: str, /) -> str:
        """The entities markupsafe.escape writes, as a plain str."""
        return (
            text.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&#34;")
            .replace("'", "&#39;")
        )


MORE = '<span class="more" title="shortened; open the record for the whole value">…</span>'
NULL_INNER = '<span class="null">NULL</span>'
NULL_TD = '<td class="null">NULL</td>'
STORED_TITLE = "not a value of the column&#39;s type: shown and kept as the database holds it"
# A cell's `<td>` by kind: numbers are set right, dates in the monospace font; text (most
# cells) carries no class at all, which keeps a page of rows small.
CELL_CLASS = {"number": "n", "date": "d"}
TD_BY_KIND = {kind: f'<td class="{css}">' for kind, css in CELL_CLASS.items()}
TD = "<td>"
# Kinds whose value sits in a span of its own, styled (booleans, JSON, binary previews).
SPANNED_KINDS = frozenset({"bool", "json", "binary"})

Row = Sequence[Any]
# A value's kind and inner HTML, or None when the value needs the column's Cell.
Inner = tuple[str, str] | None


def _int_inner(value: int) -> Inner:
    return "number", str(value)


def _str_inner(value: str) -> Inner:
    if value and len(value) <= PREVIEW_CHARS:
        return "text", escape(value)
    return None


def _decimal_inner(value: decimal.Decimal) -> Inner:
    return "number", format(value, "f")


def _float_inner(value: float) -> Inner:
    return "number", escape(repr(value))


def _datetime_inner(value: dt.datetime) -> Inner:
    return "date", value.isoformat(sep=" ")


def _date_inner(value: dt.date | dt.time) -> Inner:
    return "date", value.isoformat()


# How `show_value(value, preview=True)` reads for the commonest exact types, written
# directly; any other value (and long or empty text) goes through the column's Cell.
FAST_INNER: dict[type, Callable[[Any], Inner]] = {
    int: _int_inner,
    str: _str_inner,
    decimal.Decimal: _decimal_inner,
    float: _float_inner,
    dt.datetime: _datetime_inner,
    dt.date: _date_inner,
    dt.time: _date_inner,
}


def td_open(kind: str) -> str:
    """The opening `<td>` of a cell of this kind."""
    return TD_BY_KIND.get(kind, TD)


def cell_html(cell: Cell) -> Markup:
    """A Cell's HTML inside its `<td>` (or inline), link and label included: the one
    markup of a value on every page (the `cell` macro of _macros.html calls this)."""
    inner = _value(cell)
    if cell.href is None:
        return Markup(inner)
    return Markup(_link(escape(cell.href), cell.label, inner))


def cell_class(kind: str) -> str:
    """The class of a `<td>` holding a cell of this kind ("" for none)."""
    return CELL_CLASS.get(kind, "")


def _link(href: str, label: str | None, inner: str) -> str:
    if label is not None:
        return f'<a href="{href}">{escape(label)}</a> <span class="fk-key">{inner}</span>'
    return f'<a href="{href}">{inner}</a>'


def _value(cell: Cell) -> str:
    kind = cell.kind
    if kind == "null":
        return NULL_INNER
    if kind == "empty":
        return '<span class="empty" title="empty string">(empty)</span>'
    if kind == "error":
        return f'<span class="decode-error">{escape(cell.text)}</span>'
    if kind == "stored":
        more = MORE if cell.truncated else ""
        return f'<span class="stored" title="{STORED_TITLE}">{escape(cell.text)}</span>{more}'
    more = MORE if cell.truncated else ""
    if kind in SPANNED_KINDS:
        return f'<span class="v-{kind}">{escape(cell.text)}</span>{more}'
    return f"{escape(cell.text)}{more}"


CellWriter = Callable[[Row], str]


def _cell_td(cell: Cell) -> str:
    """A Cell in its `<td>`."""
    return f"{td_open(cell.kind)}{cell_html(cell)}</td>"


def _plain_writer(index: int, show: Callable[[tuple[Any, ...]], Cell]) -> CellWriter:
    """A column whose one fetched value is shown as it is."""
    inner_of = _inner_of(show, plain=True)

    def write(row: Row) -> str:
        value = row[index]
        if value is None:
            return NULL_TD
        kind, inner = inner_of(value)
        return f"{td_open(kind)}{inner}</td>"

    return write


# How a plain column's values of an exact type are written (see _typed_writer).
TYPED_TD: dict[type, Callable[[Any], str]] = {
    int: lambda value: f'<td class="n">{value}</td>',
    decimal.Decimal: lambda value: f'<td class="n">{value:f}</td>',
    dt.datetime: lambda value: f'<td class="d">{value.isoformat(sep=" ")}</td>',
}


def _typed_writer(index: int, expected: type | None, general: CellWriter) -> CellWriter:
    """A plain column whose values the driver returns as `expected`: those are written
    straight away (this runs for most cells of a page), anything else as `general` does."""
    if expected is str:

        def write_text(row: Row) -> str:
            value = row[index]
            if type(value) is str and value and len(value) <= PREVIEW_CHARS:
                return f"<td>{escape(value)}</td>"
            return general(row)

        return write_text
    written = TYPED_TD.get(expected) if expected is not None else None
    if written is None:
        return general

    def write(row: Row) -> str:
        value = row[index]
        if type(value) is expected:
            return written(value)
        return general(row)

    return write


def _cut_writer(index: int, kind: str, show: Callable[[tuple[Any, ...]], Cell]) -> CellWriter:
    """A column the database sends as text (cut short, or a date it wrote): text is written
    here, marked when cut; any other value (NULL, empty, undecodable) goes through the
    column's Cell."""
    spanned = kind in SPANNED_KINDS
    td = td_open(kind)

    def write(row: Row) -> str:
        value = row[index]
        if type(value) is not str or not value:
            return _cell_td(show((value,)))
        more = ""
        if len(value) > PREVIEW_CHARS:
            value, more = value[:PREVIEW_CHARS], MORE
        if spanned:
            return f'{td}<span class="v-{kind}">{escape(value)}</span>{more}</td>'
        return f"{td}{escape(value)}{more}</td>"

    return write


def _shown_writer(start: int, end: int, show: Callable[[tuple[Any, ...]], Cell]) -> CellWriter:
    """A column shown through its Cell (text cut short in the database, binary, booleans)."""

    def write(row: Row) -> str:
        return _cell_td(show(tuple(row[start:end])))

    return write


def _inner_of(
    show: Callable[[tuple[Any, ...]], Cell], plain: bool
) -> Callable[[Any], tuple[str, str]]:
    """The kind and inner HTML of a single-value column's value; `plain` columns' values of
    the commonest types are written directly, any other through the column's Cell."""
    fast = FAST_INNER

    def inner(value: Any) -> tuple[str, str]:
        if value is None:
            return "null", NULL_INNER
        maker = fast.get(type(value)) if plain else None
        made = maker(value) if maker is not None else None
        if made is not None:
            return made
        cell = show((value,))
        return cell.kind, _value(cell)

    return inner


def _key_href(prefix: str) -> Callable[[Sequence[Any]], str]:
    """The escaped URL of a record given its key values, from its table's record prefix."""

    def href(values: Sequence[Any]) -> str:
        if len(values) == 1 and type(values[0]) is int:
            return f"{prefix}{values[0]}"
        return escape(prefix + key_segment([key_text(value) for value in values]))

    return href


def _linked_writer(
    index: int,
    show: Callable[[tuple[Any, ...]], Cell],
    plain: bool,
    link_positions: Sequence[int],
    target_prefix: str,
    label_position: int | None,
) -> CellWriter:
    """A foreign-key column: its value links to the referenced record (when no part of the
    key is NULL), named by the referenced row's label when there is one."""
    inner_of = _inner_of(show, plain)
    href_of = _key_href(target_prefix)
    single = len(link_positions) == 1

    def write(row: Row) -> str:
        kind, inner = inner_of(row[index])
        values = [row[index]] if single else [row[position] for position in link_positions]
        if any(value is None for value in values):
            return f"{td_open(kind)}{inner}</td>"
        label = label_text(row[label_position]) if label_position is not None else None
        if label is not None:  # the label leads: text, whatever the key's kind
            return f"{TD}{_link(href_of(values), label, inner)}</td>"
        return f"{td_open(kind)}{_link(href_of(values), label, inner)}</td>"

    return write


def _key_writer(
    index: int, show: Callable[[tuple[Any, ...]], Cell], plain: bool, prefix: str
) -> CellWriter:
    """The cell of a table's one-column primary key: its value links to the record."""
    inner_of = _inner_of(show, plain)
    href_of = _key_href(prefix)

    def write(row: Row) -> str:
        value = row[index]
        kind, inner = inner_of(value)
        if value is None:
            return f"{td_open(kind)}{inner}</td>"
        classes = f"{cell_class(kind)} pk".lstrip()
        return f'<td class="{classes}"><a href="{href_of((value,))}">{inner}</a></td>'

    return write


def _driver_type(column: Column) -> type | None:
    """The exact type a column's values come back as, when rows_html has a writer for it."""
    expected = kind_for(column).driver_type
    return expected if expected is str or expected in TYPED_TD else None


@dataclass(frozen=True)
class RowsWriter:
    """Writes a page's fetched rows as `<tr>`s: one cell per listed column, as the plan
    fetched them, led by an "open" cell linking to the record when no key cell does."""

    open_href: Callable[[Row], str] | None
    cells: tuple[CellWriter, ...]
    key_segment: Callable[[Row], str] | None = None  # the row's key as its URL writes it
    record_href: Callable[[Row], str] | None = None  # the row's record page, escaped
    # Per cell, for an editable column: the end of its link to the record form focused on
    # the column's field (after the record's URL); None for a column not edited here.
    edit_links: tuple[str | None, ...] = ()
    edit_columns: tuple[str | None, ...] = ()  # per cell, the editable column's name or None

    @property
    def open_column(self) -> bool:
        return self.open_href is not None

    def html(self, rows: Sequence[Row], *, pick: bool = False, edit: bool = False) -> Markup:
        """The rows; `pick` leads each with a checkbox for the bulk form (its value the
        row's key), for a user who may change the rows; `edit` ends each editable cell
        with a link to the record form focused on that column's field."""
        if edit and self.record_href is not None and any(self.edit_links):
            cells = self._linked_cells(self.record_href)
            return self._rows(rows, pick, cells)
        return self._rows(rows, pick, self.cells)

    def _linked_cells(self, record_href: Callable[[Row], str]) -> tuple[CellWriter, ...]:
        """The cell writers, each editable column's ending with its edit link."""

        def linked(write: CellWriter, tail: str) -> CellWriter:
            def write_linked(row: Row) -> str:
                return f"{write(row)[:-5]}{EDIT_LINK_OPEN}{record_href(row)}{tail}</td>"

            return write_linked

        return tuple(
            write if tail is None else linked(write, tail)
            for write, tail in zip(self.cells, self.edit_links, strict=True)
        )

    def _rows(self, rows: Sequence[Row], pick: bool, cells: tuple[CellWriter, ...]) -> Markup:
        parts: list[str] = []
        open_href = self.open_href
        key_segment = self.key_segment if pick else None
        for row in rows:
            if key_segment is not None:
                parts.append(
                    '<tr><td class="pick"><input type="checkbox" name="key" form="bulk" '
                    f'value="{key_segment(row)}" aria-label="Choose this row"></td>'
                )
                parts.append(
                    f'<td class="pk"><a href="{open_href(row)}">open</a></td>'
                    if open_href is not None
                    else ""
                )
            elif open_href is not None:
                parts.append(f'<tr><td class="pk"><a href="{open_href(row)}">open</a></td>')
            else:
                parts.append("<tr>")
            parts.append("".join([write(row) for write in cells]))
            parts.append("</tr>\n")
        return Markup("".join(parts))


EDIT_LINK_OPEN = ' <a class="edit-cell" href="'


def edit_link_tail(name: str) -> str:
    """The end of an editable cell's link, after its record's URL: the record form with
    the column's field focused, named for a screen reader, and a pencil to see."""
    query = escape(urlencode({"focus": name}))
    return f'/edit?{query}" aria-label="Edit {escape(name)}">✎</a>'


def rows_writer(info: TableInfo, plan: ListPlan, editable: Collection[str] = ()) -> RowsWriter:
    """The writer for `plan`'s rows of `info`: which cells link where, worked out once. A
    one-column primary key that is listed (and is no foreign key) links to the record from
    its own cell; otherwise, a table with a key gets an "open" column. The `editable`
    columns' cells may end with a link to edit them (RowsWriter.html's `edit`)."""
    links: dict[str, tuple[list[int], str]] = {}  # column name -> key positions, target prefix
    for relation in info.outgoing:
        if not all(name in plan.positions for name in relation.columns):
            continue
        positions = [plan.positions[name] for name in relation.columns]
        for name in relation.columns:
            links.setdefault(name, (positions, record_url_prefix(relation.target)))
    record_prefix = record_url_prefix(info.name)
    key_cell = None
    if len(plan.key_names) == 1 and plan.key_names[0] not in links:
        key_cell = plan.key_names[0]
    cells: list[CellWriter] = []
    key_linked = False
    for column, (start, end, show, plain) in zip(plan.columns, plan.readers, strict=True):
        name = column.column.name
        link = links.get(name) if end - start == 1 else None
        if name == key_cell and end - start == 1:
            cells.append(_key_writer(start, show, plain, record_prefix))
            key_linked = True
        elif link is not None:
            cells.append(
                _linked_writer(start, show, plain, link[0], link[1], plan.label_positions.get(name))
            )
        elif plain:
            general = _plain_writer(start, show)
            cells.append(_typed_writer(start, _driver_type(column.column), general))
        elif column.cut_kind is not None:
            cells.append(_cut_writer(start, column.cut_kind, show))
        else:
            cells.append(_shown_writer(start, end, show))
    open_href = None
    key_segment = None
    record_href = None
    if info.primary_key:
        key_positions = [plan.positions[name] for name in plan.key_names]
        key_href = _key_href(record_prefix)
        segment = _key_href("")

        def key_segment(row: Row) -> str:
            return segment([row[position] for position in key_positions])

        def record_href(row: Row) -> str:
            return key_href([row[position] for position in key_positions])

        if not key_linked:
            open_href = record_href
    edit_columns = tuple(
        column.column.name if column.column.name in editable else None for column in plan.columns
    )
    edit_links = tuple(None if name is None else edit_link_tail(name) for name in edit_columns)
    return RowsWriter(open_href, tuple(cells), key_segment, record_href, edit_links, edit_columns)
