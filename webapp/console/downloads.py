"""A console result as CSV or JSON: the download's formats, for columns that no table
describes, so each value is written by its Python type (the value-kind registry's reading of
a value met without its column)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column
from sqlalchemy.types import NullType

from webapp.listing.exports import PLAIN_VALUES, ExportWriter


class ResultWriter(ExportWriter):
    """ExportWriter for a statement's result columns, by name only."""

    def __init__(self, format_name: str, names: Sequence[str]) -> None:
        super().__init__(format_name, [Column(name or "?", NullType()) for name in names])
        self.names = list(names)
        self.kinds = [PLAIN_VALUES] * len(self.names)
