"""The files an import reads: CSV (a header row, RFC 4180 quoting, UTF-8 with or without a
byte-order mark, the delimiter sniffed or chosen) or a JSON array of objects. Each gives its
column names and its records, one at a time, each with the line it starts on, so an error
can name it. A CSV file is read as a stream from the file object (never whole into memory);
a JSON file is decoded whole, one object at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

FORMATS = ("csv", "json")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}
SNIFF_BYTES = 64 * 1024
_CSV_FIELD_LIMIT = 16 * 1024 * 1024  # a cell may hold a long text, never more than a file


class FileRefused(Exception):
    """The file cannot be imported at all (not UTF-8, broken quoting, not an array of
    objects, no header); the message says where."""


@dataclass(frozen=True)
class Record:
    """One row of the file: the line it starts on, and its cells by file column: text, or
    None for JSON's null (a CSV cell is always text)."""

    line: int
    cells: dict[str, str | None]


@dataclass(frozen=True)
class FileShape:
    """What an import learnt from reading the file once: its format, the delimiter it
    uses, its column names in order and how many records it holds."""

    format: str
    delimiter: str
    columns: tuple[str, ...]
    rows: int


def guess_format(filename: str, head: bytes) -> str:
    """`json` for a .json name or a body that opens with `[`, else `csv`."""
    if filename.lower().endswith(".json"):
        return "json"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if text.startswith(b"[") else "csv"


def sniff_delimiter(head: bytes) -> str:
    """The delimiter of a CSV file from its first bytes: the one of comma, semicolon, tab
    and bar that splits its first lines alike (comma when none does)."""
    text = head.decode("utf-8-sig", errors="ignore")
    lines = text.splitlines()
    sample = "\n".join(lines[:-1] if len(lines) > 1 else lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return ","


def file_shape(binary: IO[bytes], format_: str, delimiter: str | None) -> FileShape:
    """Read the whole file once: its header and record count, or FileRefused saying what
    is wrong with it (a broken quote, bytes that are not UTF-8, ...)."""
    binary.seek(0)
    head = binary.read(SNIFF_BYTES)
    if format_ == "csv" and delimiter is None:
        delimiter = sniff_delimiter(head)
    delimiter = delimiter or ","
    columns, records = read_records(binary, format_, delimiter)
    rows = sum(1 for _ in records)
    return FileShape(format_, delimiter, columns, rows)


def read_records(
    binary: IO[bytes], format_: str, delimiter: str = ","
) -> tuple[tuple[str, ...], Iterator[Record]]:
    """The file's column names and an iterator of its records (FileRefused, raised while
    iterating, names the line a problem is on). The file is read from its start."""
    binary.seek(0)
    if format_ == "json":
        return _json_records(binary)
    return _csv_records(binary, delimiter)


def _csv_records(binary: IO[bytes], delimiter: str) -> tuple[tuple[str, ...], Iterator[Record]]:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        text.detach()
        raise FileRefused(_csv_problem(exc, reader.line_num)) from None
    if not header or all(name.strip() == "" for name in header):
        text.detach()
        raise FileRefused("The file has no header row naming its columns.")
    columns = tuple(name.strip() for name in header)
    _check_names(columns)

    def records() -> Iterator[Record]:
        try:
            last = reader.line_num
            for row in reader:
                line = last + 1
                last = reader.line_num
                if not row:
                    continue  # a blank line holds no record
                if len(row) != len(columns):
                    raise FileRefused(
                        f"Line {line}: {len(row)} cells where the header names "
                        f"{len(columns)} columns."
                    )
                yield Record(line, dict(zip(columns, row, strict=True)))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileRefused(_csv_problem(exc, reader.line_num)) from None
        finally:
            text.detach()  # the caller's file stays open (a job reads it again)

    return columns, records()


def _csv_problem(exc: Exception, line: int) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"Near line {max(line, 1)}: the file is not UTF-8 text."
    return f"Line {max(line, 1)}: the CSV cannot be read ({exc})."


def _json_records(binary: IO[bytes]) -> tuple[tuple[str, ...], Iterator[Record]]:
    try:
        text = binary.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused("The file is not UTF-8 text.") from None
    decoder = json.JSONDecoder()
    items: list[tuple[int, dict[str, Any]]] = []
    position, line = _skip_space(text, 0), 1
    if not text.startswith("[", position):
        raise FileRefused("A JSON file must hold one array of objects, one per row.")
    position += 1
    columns: dict[str, None] = {}
    while True:
        next_position = _skip_space(text, position)
        line += text.count("\n", position, next_position)
        position = next_position
        if text.startswith("]", position):
            break
        try:
            item, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise FileRefused(
                f"Line {exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})."
            ) from None
        if not isinstance(item, dict):
            raise FileRefused(f"Line {line}: each item of the array must be an object.")
        items.append((line, item))
        columns.update(dict.fromkeys(str(key) for key in item))
        line += text.count("\n", position, end)
        position = _skip_space(text, end)
        if text.startswith(",", position):
            position += 1
        elif not text.startswith("]", position):
            raise FileRefused(f"Line {line}: expected , or ] after an object.")
    if text[position + 1 :].strip():
        raise FileRefused(f"Line {line}: text after the array's end.")
    names = tuple(columns)
    _check_names(names)

    def records() -> Iterator[Record]:
        for number, item in items:
            yield Record(number, {name: _json_cell(item[name]) for name in names if name in item})

    return names, records()


def _json_cell(value: Any) -> str | None:
    """A JSON value as the text a form field would hold (objects and arrays as JSON)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _skip_space(text: str, position: int) -> int:
    length = len(text)
    while position < length and text[position] in " \t\r\n":
        position += 1
    return position


def _check_names(columns: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise FileRefused(f"The column {name!r} appears twice in the file's header.")
        seen.add(name)
