"""What a template prints for one value: a `Cell`, its text and how it is styled."""

from __future__ import annotations

from dataclasses import dataclass

PREVIEW_CHARS = 200
BINARY_PREVIEW_BYTES = 16


@dataclass(frozen=True, slots=True)
class Cell:
    """A value ready for a template: what to print, and how to style it."""

    # null, empty, text, number, bool, date, json, binary, error (unreadable), stored (a
    # value that is not of its column's type, shown as the database holds it)
    kind: str
    text: str
    truncated: bool = False
    href: str | None = None
    label: str | None = None  # a foreign key's referenced row, named for people

    def linked(self, href: str | None) -> Cell:
        return Cell(self.kind, self.text, self.truncated, href, self.label)

    def labelled(self, label: str | None) -> Cell:
        return Cell(self.kind, self.text, self.truncated, self.href, label)


NULL_CELL = Cell("null", "NULL")


def text_cell(kind: str, text: str, preview: bool) -> Cell:
    """A cell of `text`, cut to PREVIEW_CHARS (and marked so) for a list page."""
    if preview and len(text) > PREVIEW_CHARS:
        return Cell(kind, text[:PREVIEW_CHARS], truncated=True)
    return Cell(kind, text)


def show_binary(size: int, head: bytes) -> Cell:
    """A binary value by its size and first bytes (the whole value never goes to a page)."""
    hex_head = head[:BINARY_PREVIEW_BYTES].hex(" ")
    more = "…" if size > BINARY_PREVIEW_BYTES else ""
    unit = "byte" if size == 1 else "bytes"
    return Cell("binary", f"{size:,} {unit}" + (f": {hex_head}{more}" if size else ""))
