"""What a JSON client sends to create or change a record: an object of column name ->
value, read and checked field by field as the record form reads its fields (the same
columns may be set, each value parsed by its column's kind), every problem listed at once."""

from __future__ import annotations

from collections.abc import Mapping
from json import JSONDecodeError
from typing import Any

from aiohttp import web
from sqlalchemy.engine import Dialect

from webapp.changes.forms import FormField, Mode, form_field
from webapp.changes.inputs import input_spec
from webapp.database.dialects import can_hold
from webapp.schema.catalog import TableInfo
from webapp.values import FieldError
from webapp.web.errors import BadRequest, UnsupportedMediaType

JSON_TYPES = ("application/json", "application/merge-patch+json")


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 415 for another media type, 400 for anything else."""
    if request.content_type not in JSON_TYPES:
        raise UnsupportedMediaType("Send the record as JSON (Content-Type: application/json).")
    try:
        body = await request.json()
    except (JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON (UTF-8).") from None
    except RecursionError:
        raise BadRequest("The body nests too deeply.") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object of column names and values.")
    return body


def record_fields(
    info: TableInfo, dialect: Dialect, mode: Mode, row: Mapping[str, Any] | None
) -> list[FormField]:
    """The record form's fields (which columns may be set, and how), without the form's
    choices of referenced rows: the database checks a foreign key."""
    return [
        form_field(input_spec(column, position, dialect), info, mode, row)
        for position, column in enumerate(info.columns)
    ]


def body_values(
    fields: list[FormField], body: Mapping[str, Any], dialect: Dialect, mode: Mode
) -> dict[str, Any]:
    """The values to write by column name; a 400 whose `errors` name each field that is
    unknown (or hidden: the same answer), not settable, or not a value of its column."""
    by_name = {field.name: field for field in fields}
    values: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for name, raw in body.items():
        field = by_name.get(name)
        try:
            if field is None:
                raise FieldError("No such column.")
            values[name] = field_value(field, raw, dialect, mode)
        except FieldError as exc:
            errors.append({"field": name, "message": str(exc)})
    if errors:
        raise BadRequest(invalid_message(errors), {"errors": errors})
    return values


def field_value(field: FormField, raw: Any, dialect: Dialect, mode: Mode) -> Any:
    """One field's value from JSON, as FormField.value reads the browser's text."""
    spec = field.spec
    if not field.editable:
        if field.widget == "fixed" and mode == "edit":
            raise FieldError("A record's key is not changed here.")
        if field.widget == "fixed":
            raise FieldError("The database sets this column.")
        raise FieldError("This column is read-only.")
    value = spec.value_kind.parse_api(raw)
    if value is None and not spec.nullable:
        raise FieldError("This column cannot be null.")
    if isinstance(value, str) and not can_hold(spec.column, value, dialect):
        raise FieldError(
            "This column cannot store some of these characters (NUL or ones outside its "
            "character set)."
        )
    return value


def field_errors(fields: list[FormField]) -> list[dict[str, str]]:
    """The errors a database refusal put on fields (webapp.changes.refusals)."""
    return [{"field": field.name, "message": field.error} for field in fields if field.error]


def invalid_message(errors: list[dict[str, str]]) -> str:
    names = ", ".join(repr(error["field"]) for error in errors)
    return f"Some values cannot be saved: {names}."
