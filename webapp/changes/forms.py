"""The record form: one typed `FormField` per visible column, built from the reflected table
and the stored row, filled with what the browser sent, and parsed into the values to write
(or an error on each field that cannot be). The create and edit pages render these fields;
webapp.changes.writes writes the values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from sqlalchemy import Column, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.changes.inputs import (
    UNCHANGED,
    FieldError,
    InputSpec,
    Upload,
    input_spec,
    input_text,
    needs_textarea,
    parse_input,
)
from webapp.database.dialects import can_hold
from webapp.schema.catalog import Catalog, TableInfo, str_type
from webapp.schema.labels import load_labels, row_label
from webapp.values import Cell, key_text, kind_for, show_value
from webapp.web.html_text import visible_controls
from webapp.web.urls import table_url

Mode = Literal["create", "edit"]

FK_SELECT_LIMIT = 100
SELECT_KINDS = ("bool", "enum", "select")
FIXED_WIDGETS = ("fixed", "readonly")


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT = _Omit()
"""A field that sets nothing: the column is left to the database (create) or as it is
(edit)."""


@dataclass
class FormField:
    """One column of the record form: its widget, the text in it (the stored value, or what
    the user sent), the NULL and database-default choices, a select's options or a large
    table's lookup, and the error to show beside it."""

    spec: InputSpec
    type: str
    # text, textarea, bool, enum, select, file; `fixed` (the key on an edit, or a value the
    # database fills on a create) and `readonly` are shown but never sent.
    widget: str
    text: str = ""
    current: Cell | None = None  # the stored value, as the page shows it
    is_null: bool = False
    use_default: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (key text, label)
    lookup_href: str | None = None
    current_label: str | None = None  # a lookup's stored key, named by the row it refers to
    sent: str | bytes | web.FileField | None = None  # what the browser sent, if anything
    error: str | None = None

    @property
    def name(self) -> str:
        """The column's name (the form itself names its inputs by position: `spec.name`)."""
        return str(self.spec.column.name)

    @property
    def editable(self) -> bool:
        return self.widget not in FIXED_WIDGETS

    def take_input(self, form: Mapping[str, Any]) -> None:
        """Fill the field with what the browser sent for it."""
        spec = self.spec
        raw = form.get(spec.name)
        if isinstance(raw, str) and raw != self.text:
            # A stored text with control characters is shown escaped (html_text); the same
            # escapes sent back mean the value was left as it is.
            shown = visible_controls(self.text)
            if shown != self.text and _lines(raw) == _lines(shown):
                raw = self.text
        self.sent = raw
        if isinstance(raw, str):
            self.text = raw
        self.is_null = spec.null_name in form
        self.use_default = spec.default_name in form

    def value(self, dialect: Dialect, mode: Mode) -> Any:
        """The value to write for this field: OMIT, UNCHANGED (an edit's binary field with
        no file chosen), None for NULL, or the parsed value; FieldError says what is wrong."""
        spec = self.spec
        if not self.editable:
            return OMIT
        raw = self.sent
        text = raw if isinstance(raw, str) else ""
        if self.widget == "file":
            upload = _upload(raw)
            if self.is_null:
                if upload is not None:
                    raise FieldError("Untick NULL to upload this file, or choose no file.")
                return None
            if upload is None:
                if mode == "create":
                    return OMIT if self.use_default else b""
                return UNCHANGED
            return upload.data
        if self.use_default:
            if text:
                raise FieldError("Untick “database default” to save this value, or clear it.")
            return OMIT
        if self.widget in SELECT_KINDS:
            if (
                self.widget == "select"
                and text != spec.null_choice
                and text not in {value for value, _ in self.options}
            ):
                raise FieldError("Choose one of the listed rows.")
        elif self.is_null and spec.nullable:
            if text:
                raise FieldError("Untick NULL to save this value, or clear it.")
            return None
        return parse_field_text(spec, self.widget, text, dialect)


def parse_field_text(spec: InputSpec, widget: str, text: str, dialect: Dialect) -> Any:
    """The value of a field's text, once its NULL and default boxes are dealt with: a
    select's NULL choice, a blank non-text field as NULL where the column allows it, else
    the column's kind's parse. Shared by the form and a file import, so both accept the
    same texts; FieldError says what is wrong."""
    if widget in SELECT_KINDS:
        if text == spec.null_choice:
            if spec.nullable:
                return None
            raise FieldError("Choose a value.")
    elif text.strip() == "" and spec.nullable and spec.parse_as != "text":
        return None
    elif text == "" and spec.parse_as not in ("text", "json"):
        raise FieldError("A value is required.")
    value = parse_input(spec, text, dialect)
    if isinstance(value, str) and not can_hold(spec.column, value, dialect):
        raise FieldError(
            "This column cannot store some of these characters (NUL or ones "
            "outside its character set)."
        )
    return value


def form_field(
    spec: InputSpec, info: TableInfo, mode: Mode, row: Mapping[str, Any] | None
) -> FormField:
    """The field for `spec`'s column as the form opens: on a create empty (or NULL, or the
    database default, where the column has them), on an edit holding the stored value."""
    column = spec.column
    current = row[column.name] if row is not None else None
    widget = spec.kind
    if (mode == "create" and spec.database_fills) or (mode == "edit" and column.primary_key):
        widget = "fixed"
    elif column.name in info.read_only_columns:
        widget = "readonly"
    elif mode == "edit" and row is not None and not spec.value_kind.editable(current):
        widget = "readonly"  # not a value of the column's type: kept as it is stored
    is_null = mode == "edit" and current is None
    if mode == "create" and not spec.has_default and spec.nullable:
        is_null = spec.parse_as == "text"
    return FormField(
        spec=spec,
        type=str_type(column.type),
        widget=widget,
        text=spec.value_kind.input_text(current) if row is not None else "",
        current=kind_for(column).show(current, preview=True) if row is not None else None,
        is_null=is_null,
        use_default=mode == "create" and spec.has_default,
    )


async def form_fields(
    conn: AsyncConnection,
    catalog: Catalog,
    info: TableInfo,
    *,
    mode: Mode,
    row: Mapping[str, Any] | None,
    form: Mapping[str, Any] | None = None,
) -> list[FormField]:
    """The record form of `info` for `catalog`'s role: one field per visible column, a
    foreign key as a select of the referenced rows (or a lookup), filled with `form` (what
    the browser sent) when given."""
    return [
        await column_field(conn, catalog, info, position, mode=mode, row=row, form=form)
        for position in range(len(info.columns))
    ]


async def column_field(
    conn: AsyncConnection,
    catalog: Catalog,
    info: TableInfo,
    position: int,
    *,
    mode: Mode,
    row: Mapping[str, Any] | None,
    form: Mapping[str, Any] | None = None,
) -> FormField:
    """The record form's field for the column at `position` of `info.columns`, as
    `form_fields` makes it (an edit in place in the table page uses this one field)."""
    column = info.columns[position]
    spec = input_spec(column, position, conn.dialect)
    field_ = form_field(spec, info, mode, row)
    if field_.widget in ("text", "textarea"):
        stored = row[column.name] if row is not None else None
        await _foreign_key_widget(conn, catalog, info, column, field_, stored)
    if form is not None:
        field_.take_input(form)
    if field_.widget == "text" and needs_textarea(spec, field_.text):
        field_.widget = "textarea"
    return field_


def editable_in_list(info: TableInfo, column: Column) -> bool:
    """Whether the table page offers to edit `column`'s cells (in place, or by a link to
    the record form focused on its field): a column the edit form lets the role change,
    whose widget fits in a cell (a file upload does not)."""
    if column.primary_key or column.computed is not None:
        return False
    if column.name in info.read_only_columns:
        return False
    return kind_for(column).widget not in ("readonly", "file")


def parse_fields(fields: list[FormField], dialect: Dialect, mode: Mode) -> dict[str, Any] | None:
    """The values to write by column name, or None after setting each failing field's
    error (every field is checked, so the page shows all that need attention at once)."""
    values: dict[str, Any] = {}
    ok = True
    for field_ in fields:
        try:
            value = field_.value(dialect, mode)
        except FieldError as exc:
            field_.error = str(exc)
            ok = False
            continue
        if value is not OMIT:
            values[field_.name] = value
    return values if ok else None


def option_label(key: Any, label: Any) -> str:
    """How a referenced row is offered: its key, and its label when it has one."""
    text = key_text(key)
    if label not in (None, ""):
        return f"{text} — {show_value(label, preview=True).text}"
    return text


async def _foreign_key_widget(
    conn: AsyncConnection,
    catalog: Catalog,
    info: TableInfo,
    column: Column,
    field_: FormField,
    stored: Any,
) -> None:
    """A select of the referenced rows for a small table; for a large one, a key input with
    a search-as-you-type picker (static/edit.js) over the lookup endpoint, with the label of
    the `stored` key beside it."""
    relation = info.relation_for(column.name)
    if relation is None or len(relation.columns) != 1:
        return
    target = catalog.tables[relation.target]
    if len(target.primary_key) != 1 or target.primary_key[0].name != relation.target_columns[0]:
        return
    key_column = target.primary_key[0]
    label = row_label(target.label_columns).label("label") if target.label_columns else None
    selected = [key_column, *([label] if label is not None else [])]
    statement = select(*selected).order_by(key_column).limit(FK_SELECT_LIMIT + 1)
    rows = (await conn.execute(statement)).all()
    if len(rows) > FK_SELECT_LIMIT:
        field_.lookup_href = f"{table_url(target.name)}/lookup"
        if stored is not None:
            labels = await load_labels(conn, catalog, relation, [stored])
            field_.current_label = labels.get(stored)
        return
    field_.widget = "select"
    field_.options = [
        (input_text(values[0]), option_label(values[0], values[1] if label is not None else None))
        for values in rows
    ]


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")


def _upload(raw: Any) -> Upload | None:
    if isinstance(raw, web.FileField):
        return Upload(raw.filename, raw.file.read())
    if isinstance(raw, bytes) and raw:
        return Upload("", raw)
    return None
