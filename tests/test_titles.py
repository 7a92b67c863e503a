"""Readable column titles (schema/titles.py), as headings and facets show them."""

from __future__ import annotations

import pytest

from webapp.schema.titles import column_title


@pytest.mark.parametrize(
    ("name", "reference", "title"),
    [
        ("author_id", True, "Author"),
        ("authorId", True, "Author"),
        ("external_id", False, "External ID"),  # not a foreign key: the suffix is meaning
        ("id", False, "ID"),
        ("created_at", False, "Created at"),
        ("unit_price", False, "Unit price"),
        ("isbn", False, "ISBN"),
        ("customerName", False, "Customer name"),
        ("order items", False, "Order items"),
        ("Ünïcode_naMe", False, "Ünïcode na me"),
        ("_", False, "_"),
        ("1", False, "1"),
        ("id", True, "ID"),  # nothing would be left: the name stays
    ],
)
def test_column_title(name: str, reference: bool, title: str) -> None:
    assert column_title(name, reference=reference) == title
