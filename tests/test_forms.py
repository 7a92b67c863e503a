"""The record form on its own (webapp.changes.forms): which widget each column gets, what a
form that opens holds, and how what the browser sends becomes typed values or an error on
each field that needs one. (The pages around it are tested per backend in test_edit.py.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects import sqlite

from webapp.changes.forms import FormField, Mode, form_field, parse_fields
from webapp.changes.inputs import UNCHANGED, input_spec
from webapp.schema.catalog import TableInfo
from webapp.web.html_text import visible_controls

DIALECT = sqlite.dialect()
TABLE = Table(
    "things",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(20), nullable=False),
    Column("price", Numeric(8, 2), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("note", Text, nullable=True),
    Column("count", Integer, nullable=True, server_default=text("0")),
    Column("data", LargeBinary, nullable=True),
)
INFO = TableInfo("things", TABLE, is_view=False)
ROW = {
    "id": 7,
    "name": "seven",
    "price": Decimal("1.50"),
    "active": True,
    "note": None,
    "count": 3,
    "data": b"\x00\x01",
}


def fields(mode: Mode, row: dict[str, Any] | None = None) -> dict[str, FormField]:
    built = [
        form_field(input_spec(column, position, DIALECT), INFO, mode, row)
        for position, column in enumerate(INFO.columns)
    ]
    return {field.name: field for field in built}


def send(opened: dict[str, FormField], **sent: str) -> list[FormField]:
    """Fill the form as a browser would: every input by its position name, plus the
    NULL and default boxes named `<column>:null` / `<column>:default`."""
    form: dict[str, Any] = {}
    for key, value in sent.items():
        column, _, box = key.partition("__")
        name = opened[column].spec.name
        form[f"{name}:{box}" if box else name] = value
    for field in opened.values():
        field.take_input(form)
    return list(opened.values())


def test_a_new_record_form_opens_empty_with_the_databases_choices() -> None:
    opened = fields("create")
    assert {name: field.widget for name, field in opened.items()} == {
        "id": "text",
        "name": "text",
        "price": "text",
        "active": "bool",
        "note": "textarea",
        "count": "text",
        "data": "file",
    }
    assert all(field.text == "" and field.current is None for field in opened.values())
    assert opened["count"].use_default and not opened["name"].use_default
    assert opened["note"].is_null  # a nullable text without default starts as NULL
    assert not opened["price"].is_null  # other nullable kinds: an empty input means NULL


def test_an_edit_form_holds_the_stored_values_and_fixes_the_key() -> None:
    opened = fields("edit", ROW)
    assert opened["id"].widget == "fixed" and not opened["id"].editable
    assert opened["price"].text == "1.50"
    assert opened["active"].text == "1"
    assert opened["note"].is_null and opened["note"].text == ""
    assert opened["name"].current is not None and opened["name"].current.text == "seven"


def test_a_create_form_parses_into_typed_values() -> None:
    sent = send(
        fields("create"),
        id="12",
        name="twelve",
        price="3.5",
        active="0",
        note__null="1",
        count__default="1",
    )
    assert parse_fields(sent, DIALECT, "create") == {
        "id": 12,
        "name": "twelve",
        "price": Decimal("3.5"),
        "active": False,
        "note": None,
        "data": b"",  # no file chosen for a NOT-defaulted binary: empty bytes
    }
    assert all(field.error is None for field in sent)


def test_every_field_that_cannot_be_parsed_gets_its_own_error() -> None:
    sent = send(
        fields("create"),
        id="",
        name="fine",
        price="lots",
        active="0",
        note="text",
        note__null="1",
        count="5",
        count__default="1",
    )
    assert parse_fields(sent, DIALECT, "create") is None
    errors = {field.name: field.error for field in sent if field.error}
    assert errors.keys() == {"id", "price", "note", "count"}
    assert errors["id"] == "A value is required."
    assert errors["note"] == "Untick NULL to save this value, or clear it."
    assert errors["count"] == "Untick “database default” to save this value, or clear it."
    assert errors["price"]  # the value kind's own sentence


def test_an_edit_leaves_the_key_out_and_a_file_without_upload_unchanged() -> None:
    sent = send(fields("edit", ROW), name="renamed", price="", active="1", count="3")
    values = parse_fields(sent, DIALECT, "edit")
    assert values is not None
    assert "id" not in values
    assert values["data"] is UNCHANGED
    assert values["price"] is None  # an empty number in a nullable column is NULL
    assert values["name"] == "renamed"


def as_select(opened: dict[str, FormField]) -> dict[str, FormField]:
    """`count` offered as a select of one referenced row, as a small table's key is."""
    opened["count"].widget, opened["count"].options = "select", [("1", "1 — one")]
    return opened


def test_a_select_accepts_only_a_listed_row() -> None:
    sent = send(as_select(fields("create")), id="1", name="x", active="1", count="2")
    assert parse_fields(sent, DIALECT, "create") is None
    assert {field.name: field.error for field in sent if field.error} == {
        "count": "Choose one of the listed rows."
    }
    sent = send(as_select(fields("create")), id="1", name="x", active="1", count="1")
    values = parse_fields(sent, DIALECT, "create")
    assert values is not None and values["count"] == 1


def test_escaped_control_characters_sent_back_keep_the_stored_text() -> None:
    stored = "a\x07b"
    opened = fields("edit", {**ROW, "name": stored})
    shown = visible_controls(stored)
    assert shown != stored
    send(opened, name=shown)
    assert opened["name"].text == stored
    send(opened, name="something else")
    assert opened["name"].text == "something else"
