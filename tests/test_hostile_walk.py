"""A walk of every page over the hostile corpus, generated from the app's catalog: the index;
each table's list sorted by every column both ways, filtered with every operator each
column offers, searched; each row's record page, edit form and an unchanged save (the row
must stay byte-for-byte the same in the database); the new-record form; CSV and JSON
downloads; history. On every page: no 5xx, no control characters HTML forbids, every value
shown equals the expected text of the database's value, and no two different stored values
of a column are shown alike. A filter with a value the column holds must be accepted."""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import os
import re
import traceback
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import pytest
from markupsafe import escape
from sqlalchemy import LargeBinary, Text, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from tests.helpers import backends_under_test, parse_form
from tests.hostile_corpus import CORPUS, arrange, corpus_class
from webapp.database.decoding import fetch_rows
from webapp.listing.filters import MAX_FILTERS, OPERATORS, operators_for
from webapp.listing.queries import sortable
from webapp.schema.catalog import TableInfo
from webapp.settings import DEFAULT_PAGE_SIZE
from webapp.values import column_family, key_text, kind_for
from webapp.web.appkeys import CATALOG, ENGINE
from webapp.web.urls import column_statistics_url, export_url, new_record_url, record_url, table_url

csv.field_size_limit(1 << 24)


def walk_cases() -> list[Any]:
    """(backend, corpus class) for each backend under test."""
    backends = backends_under_test()
    return [
        pytest.param(backend, item.name, id=f"{backend}-{item.name}")
        for backend, classes in CORPUS.items()
        if backend in backends
        for item in classes
    ]


def expected_text(column: Any, value: Any, *, preview: bool) -> str:
    """The text a page must show for a database value: its value kind's text of it."""
    cell = kind_for(column).show(value, preview)
    if cell.kind == "empty":
        return "(empty)"
    return cell.text + ("…" if cell.truncated else "")


def expected_csv_text(column: Any, value: Any) -> str:
    """A value's CSV field: the record page's text, but NULL and '' empty, binary as
    hexadecimal, JSON documents compact."""
    return kind_for(column).csv_text(value)


# Characters HTML forbids in a document's text: controls other than ASCII whitespace, and
# noncharacters.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff"
    "\U0001fffe\U0001ffff\U0010fffe\U0010ffff]"
)
NUMERIC_REFERENCE = re.compile(r"&#([xX][0-9a-fA-F]+|[0-9]+);")
TAG = re.compile(r"<[^>]*>")
ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
# A row's value cells; the bulk form's checkbox cell leads rows an editor sees and holds none.
CELL = re.compile(r'<td(?! class="pick")[^>]*>(.*?)</td>', re.S)
RECORD_FIELD = re.compile(
    r'<tr>\n<th scope="row">(.*?)(?: <abbr[^>]*>PK</abbr>)?<div class="type">.*?</div></th>\n'
    r"<td[^>]*>(.*?)</td>\n</tr>",
    re.S,
)
FACET_LINK = re.compile(r'<a href="([^"]*)"[^>]*>.*?</a> <span class="facet-count">([\d,]+)</span>')
# A statistics page's links: each bar's or value's row of its data table, and the NULLs.
STATS_LINK = re.compile(
    r'<tr><td[^>]*><a href="([^"]*)">(?:(?!</tr>).)*?<td class="num">([\d,]+)</td></tr>', re.S
)
STATS_NULL_LINK = re.compile(r'<dt>NULL</dt><dd><a href="([^"]*)">([\d,]+)</a>')
STATS_FIGURE = re.compile(r"<dt>(Rows|NULL)</dt><dd>(?:<a [^>]*>)?([\d,]+)")
DOWNLOAD_LINK = re.compile(r' <a class="download" href="([^"]*)" download>Download</a>')


def forbidden_reference(number: str) -> bool:
    """Whether `&#number;` names a character HTML forbids (or none at all)."""
    code = int(number[1:], 16) if number[0] in "xX" else int(number)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return True
    return bool(FORBIDDEN.match(chr(code)))


# A control character the app shows visibly escaped (webapp/web/html_text.py), marked as such.
CONTROL = re.compile(r'<span class="ctl">\\(?:x([0-9a-f]{2})|u([0-9a-f]{4}))</span>')


def shown(inner_html: str) -> str:
    """The text a piece of HTML shows, each marked control escape read as its character."""
    text = CONTROL.sub(lambda match: chr(int(match[1] or match[2], 16)), inner_html)
    return html.unescape(TAG.sub("", text))


class ErrorLog(logging.Handler):
    """The app's logged exceptions, to name the failing frame of a 5xx."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def last_frame(self) -> str:
        for record in reversed(self.records):
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                frames = traceback.extract_tb(exc.__traceback__)
                ours = [frame for frame in frames if f"{os.sep}webapp{os.sep}" in frame.filename]
                shown = [ours[-1]] if ours and ours[-1] is not frames[-1] else []
                where = " -> ".join(
                    f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"
                    for frame in [*shown, frames[-1]]
                )
                return f"{where}: {first_line(exc)}"
        return "no traceback logged"


class Walk:
    """Visits every page of every relation the catalog holds, collecting failures."""

    def __init__(self, client: Any, engine: AsyncEngine, errors: ErrorLog) -> None:
        self.client = client
        self.engine = engine
        self.errors = errors
        self.failures: list[str] = []
        self.requests = 0
        # (column, text shown on a record page) -> the raw values shown so, per table
        self.shown_as: dict[tuple[str, str], set[Any]] = {}
        self.raw: dict[tuple[str, ...], tuple[Any, ...]] = {}

    def fail(self, url: str, problem: str) -> None:
        self.failures.append(f"{url}: {problem}")

    async def get(self, url: str, *, expect: int | None = 200) -> tuple[int, str | None]:
        """GET `url`, check it; its status and (for HTML) its text."""
        self.requests += 1
        mark = len(self.errors.records)
        response = await self.client.get(url, allow_redirects=False)
        try:
            body = await response.read()
        except Exception as exc:  # a stream cut short after its headers went out
            self.fail(url, f"body cut short ({type(exc).__name__}): {self.errors.last_frame()}")
            return response.status, None
        status = response.status
        if status >= 500:
            frame = self.errors.last_frame() if len(self.errors.records) > mark else "no log"
            self.fail(url, f"{status}: {frame}")
            return status, None
        if expect is not None and status != expect:
            page = shown(body.decode(errors="replace"))
            self.fail(url, f"{status}, expected {expect}: {page[:300]!r}")
        if len(self.errors.records) > mark:
            self.fail(url, f"{status} but logged: {self.errors.last_frame()}")
        if response.content_type == "text/html":
            return status, self.check_html(url, body)
        return status, body.decode("utf-8", errors="replace")

    def check_html(self, url: str, body: bytes) -> str | None:
        try:
            page = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.fail(url, f"HTML is not UTF-8: {exc}")
            return None
        found = FORBIDDEN.search(page) or next(
            (ref for ref in NUMERIC_REFERENCE.finditer(page) if forbidden_reference(ref[1])), None
        )
        if found:
            context = page[max(found.start() - 40, 0) : found.end() + 40]
            self.fail(url, f"forbidden character {found.group()!r} in HTML: {context!r}")
        return page

    async def run(self, expected_relations: set[tuple[str | None, str]]) -> None:
        catalog = self.client.server.app[CATALOG]
        listed = {(info.table.schema, info.table.name) for info in catalog}
        for schema, name in sorted(expected_relations - listed, key=str):
            self.fail("catalog", f"{name!r} (schema {schema!r}) is not listed")
        _, index = await self.get("/")
        for info in sorted(catalog, key=lambda info: info.name):
            link = f'href="{escape(table_url(info.name))}"'
            if index is not None and link not in index:
                self.fail("/", f"{info.name!r} is not on the index")
            await self.walk_table(info)

    async def walk_table(self, info: TableInfo) -> None:
        async with self.engine.connect() as conn:
            try:
                rows = await database_rows(conn, info, info.columns)
            except Exception as exc:  # the driver cannot read a value: walk by key alone
                self.fail(table_url(info.name), f"cannot read its rows: {first_line(exc)}")
                await conn.rollback()
                rows = await database_rows(conn, info, info.primary_key)
            before = await self.snapshot(conn, info)
            self.shown_as = {}
            self.raw = before if isinstance(before, dict) else {}
        await self.list_page(info, rows)
        for column in info.columns:
            if sortable(column):
                for direction in ("", "-"):
                    await self.get(table_url(info.name, sort=f"{direction}{column.name}"))
        await self.filters(info, rows)
        for column in info.columns:
            await self.statistics(info, column, rows)
        texts = [column for column in info.columns if column_family(column.type) == "text"]
        searches = {sample_text(column, rows) for column in texts or info.columns[:1]}
        for search in sorted(searches):
            await self.get(table_url(info.name, q=search), expect=None)
        await self.downloads(info, rows)
        if info.read_only_reason is None:
            await self.get(new_record_url(info.name))
        if info.primary_key:
            for row in rows:
                await self.record(info, row)
        await self.get("/activity?" + urlencode({"table": info.name}))
        for (name, shown_text), raw_values in self.shown_as.items():
            if len(raw_values) > 1:
                self.fail(
                    table_url(info.name),
                    f"{name!r}: different values {sorted(raw_values, key=str)[:4]} are all "
                    f"shown as {shown_text[:60]!r}",
                )
        async with self.engine.connect() as conn:
            after = await self.snapshot(conn, info)
        if after != before:
            self.changed_rows(info, before, after)

    def changed_rows(self, info: TableInfo, before: Any, after: Any) -> None:
        """Say how the walk (unchanged saves, deletions reverted) changed the table."""
        url = table_url(info.name)
        if not isinstance(before, dict) or not isinstance(after, dict):
            lost = sorted((before - after).elements(), key=str)[:3] if before and after else []
            self.fail(url, f"the walk changed the rows: {lost} ...")
            return
        for key in sorted(before.keys() | after.keys()):
            if key not in after:
                self.fail(url, f"row {key} is gone: {before[key]}")
            elif key not in before:
                self.fail(url, f"row {key} appeared: {after[key]}")
            elif before[key] != after[key]:
                changes = {
                    column.name: (old, new)
                    for column, old, new in zip(info.columns, before[key], after[key], strict=True)
                    if old != new
                }
                self.fail(url, f"row {key} changed (column: (before, after)): {changes}")

    async def filters(self, info: TableInfo, rows: list[dict[str, Any]]) -> None:
        """Every operator of every column, with a value the column holds: the i-th operator
        of each column in one URL (filters AND together), and each filter of a URL that
        fails or is refused on its own, to name the one at fault."""
        per_column = [
            [
                (
                    f"{column.name}__{op}",
                    sample_text(column, rows) if OPERATORS[op].needs_value else "",
                )
                for op in operators_for(column)
            ]
            for column in info.columns
        ]
        rounds = [
            [ops[index] for ops in per_column if index < len(ops)]
            for index in range(max(map(len, per_column), default=0))
        ]
        for params in rounds:
            for start in range(0, len(params), MAX_FILTERS):
                batch = params[start : start + MAX_FILTERS]
                failures = len(self.failures)
                await self.get(table_url(info.name, batch))
                if len(self.failures) > failures and len(batch) > 1:
                    del self.failures[failures:]
                    for param in batch:
                        await self.get(table_url(info.name, [param]))

    async def snapshot(self, conn: AsyncConnection, info: TableInfo) -> Any:
        """The rows as the database's own bytes: by key, or (without a key) as a multiset."""
        try:
            if info.primary_key:
                return await raw_rows(conn, info)
            return await raw_snapshot(conn, info)
        except Exception as exc:  # a name the catalog holds wrongly
            self.fail(table_url(info.name), f"cannot read its raw rows: {first_line(exc)}")
            await conn.rollback()
            return None

    async def list_page(self, info: TableInfo, rows: list[dict[str, Any]]) -> None:
        url = table_url(info.name, size=100)
        _, page = await self.get(url)
        if page is None:
            return
        await self.facets(page)
        columns = info.list_columns
        grid = page[page.find("<tbody>") : page.find("</tbody>")]
        shown_rows = []
        for row_html in ROW.findall(grid):
            cells = [shown(cell) for cell in CELL.findall(row_html)]
            if len(cells) == len(columns) + 1:
                cells = cells[1:]  # the "open" link
            shown_rows.append(tuple(cells))
        if any(value is UNREAD for row in rows for value in row.values()):
            return
        expected_rows = [
            tuple(expected_text(column, row[column.name], preview=True) for column in columns)
            for row in rows
        ]
        missing = Counter(expected_rows) - Counter(shown_rows)
        extra = Counter(shown_rows) - Counter(expected_rows)
        if missing or extra:
            for want, got in zip(sorted(missing, key=str), sorted(extra, key=str), strict=False):
                diff = {
                    column.name: (w, g)
                    for column, w, g in zip(columns, want, got, strict=False)
                    if w != g
                }
                self.fail(url, f"list shows {diff} (column: (expected, shown))")
            if len(missing) != len(extra):
                self.fail(url, f"list rows differ: {len(shown_rows)} shown, {len(rows)} in table")

    async def facets(self, page: str) -> None:
        """Follow every facet link the page offers: each finds as many rows as it counts."""
        aside = page[page.find('<aside class="facets"') : page.find("</aside>")]
        for href, count in FACET_LINK.findall(aside):
            url = html.unescape(href)
            status, found = await self.get(url)
            if status != 200 or found is None:
                continue
            rows = len(ROW.findall(found[found.find("<tbody>") : found.find("</tbody>")]))
            if rows != int(count.replace(",", "")) and rows < DEFAULT_PAGE_SIZE:
                self.fail(url, f"the facet counts {count} rows, its link finds {rows}")

    async def statistics(self, info: TableInfo, column: Any, rows: list[dict[str, Any]]) -> None:
        """A column's statistics page: its row and NULL counts are the table's, and every
        bar, common value and NULL link finds exactly the rows it counts."""
        url = column_statistics_url(info.name, column.name)
        status, page = await self.get(url)
        if status != 200 or page is None:
            return
        figures = {
            name: int(number.replace(",", "")) for name, number in STATS_FIGURE.findall(page)
        }
        nulls = sum(1 for row in rows if row[column.name] is None)
        unread = any(row[column.name] is UNREAD for row in rows)
        if figures.get("Rows") != len(rows):
            self.fail(
                url, f"the statistics count {figures.get('Rows')} rows, the table {len(rows)}"
            )
        if not unread and figures.get("NULL") != nulls:
            self.fail(url, f"the statistics count {figures.get('NULL')} NULLs, the table {nulls}")
        links = STATS_LINK.findall(page) + STATS_NULL_LINK.findall(page)
        for href, count in links:
            link_url = html.unescape(href)
            status, found = await self.get(link_url)
            if status != 200 or found is None:
                continue
            found_rows = len(ROW.findall(found[found.find("<tbody>") : found.find("</tbody>")]))
            counted = int(count.replace(",", ""))
            if found_rows != counted and found_rows < DEFAULT_PAGE_SIZE:
                self.fail(
                    link_url,
                    f"the statistics of {column.name!r} count {counted} rows, "
                    f"the link finds {found_rows}",
                )

    async def record(self, info: TableInfo, row: dict[str, Any]) -> None:
        key = [key_text(row[column.name]) for column in info.primary_key]
        url = record_url(info.name, key)
        _, page = await self.get(url)
        if page is not None:
            fields = {html.unescape(name): cell for name, cell in RECORD_FIELD.findall(page)}
            raw = self.raw.get(tuple(key))
            for position, column in enumerate(info.columns):
                if column.name not in fields:
                    self.fail(url, f"column {column.name!r} is not on the record page")
                    continue
                cell = fields[column.name]
                for href in DOWNLOAD_LINK.findall(cell):
                    await self.get(html.unescape(href))
                got = shown(DOWNLOAD_LINK.sub("", cell))
                if raw is not None:
                    self.shown_as.setdefault((column.name, got), set()).add(raw[position])
                if row[column.name] is UNREAD:
                    continue
                want = expected_text(column, row[column.name], preview=False)
                if got != want:
                    self.fail(url, f"{column.name!r} shows {got[:80]!r}, expected {want[:80]!r}")
        if info.read_only_reason is not None:
            return
        edit_url = f"{url}/edit"
        _, form_page = await self.get(edit_url)
        if form_page is None:
            return
        await self.post(edit_url, form_page, "unchanged save")
        await self.delete_and_revert(info, url)

    async def delete_and_revert(self, info: TableInfo, url: str) -> None:
        """Delete the row and revert the deletion: every value goes through the audit log
        and back; the table's snapshot must then be as before."""
        _, confirm = await self.get(f"{url}/delete")
        if confirm is None or not await self.post(f"{url}/delete", confirm, "delete"):
            return
        _, activity = await self.get(
            "/activity?" + urlencode({"table": info.name, "action": "delete"})
        )
        found = re.search(r'href="(/activity/\d+/revert)"', activity or "")
        if found is None:
            self.fail(url, "its deletion has no revert link on the activity page")
            return
        _, revert_page = await self.get(found[1])
        if revert_page is not None:
            await self.post(found[1], revert_page, "revert of its deletion")

    async def post(self, url: str, page: str, what: str) -> bool:
        """Submit the page's form as a browser would; a 303 is success."""
        form = parse_form(page)
        self.requests += 1
        mark = len(self.errors.records)
        response = await form.submit(self.client)
        if response.status == 303:
            return True
        body = await response.text(errors="replace")
        message = [
            html.unescape(found)
            for found in re.findall(r'<p(?: class="field-error"[^>]*)?>(.*?)</p>', body)
            if "Nothing was saved" not in found
        ]
        frame = self.errors.last_frame() if len(self.errors.records) > mark else ""
        self.fail(f"POST {url}", f"{what} answered {response.status}: {message[-3:] or frame}")
        return False

    async def downloads(self, info: TableInfo, rows: list[dict[str, Any]]) -> None:
        csv_url = export_url(info.name, "csv")
        status, body = await self.get(csv_url)
        if status == 200 and body is not None:
            records = list(csv.reader(io.StringIO(body, newline="")))
            names = [column.name for column in info.columns]
            if not records or records[0] != names:
                self.fail(csv_url, f"header {records[:1]}, expected {names}")
            if len(records) != len(rows) + 1:
                self.fail(csv_url, f"{len(records) - 1} rows downloaded, {len(rows)} in table")
            elif not any(value is UNREAD for row in rows for value in row.values()):
                expected = Counter(
                    tuple(expected_csv_text(c, row[c.name]) for c in info.columns) for row in rows
                )
                got = Counter(tuple(record) for record in records[1:])
                for want, found in zip(
                    sorted(expected - got, key=str), sorted(got - expected, key=str), strict=False
                ):
                    diff = {n: (w, f) for n, w, f in zip(names, want, found, strict=True) if w != f}
                    self.fail(csv_url, f"CSV holds {diff} (column: (expected, downloaded))")
        json_url = export_url(info.name, "json")
        status, body = await self.get(json_url)
        if status == 200 and body is not None:
            try:
                document = json.loads(body)
            except ValueError as exc:
                self.fail(json_url, f"not JSON: {exc}")
                return
            items = document.get("rows", document) if isinstance(document, dict) else document
            if len(items) != len(rows):
                self.fail(json_url, f"{len(items)} rows downloaded, {len(rows)} in table")


def sample_text(column: Any, rows: list[dict[str, Any]]) -> str:
    """A filter value for `column`: a value it holds, as a person would type it."""
    for row in rows:
        sample = sample_of(column, row[column.name])
        if sample:
            return sample
    return "x"


def sample_of(column: Any, value: Any) -> str:
    if value is None or value is UNREAD:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return ""
    text_value = key_text(value)
    return text_value[:40] if len(text_value) <= 200 else text_value[:20]


def first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]


async def database_rows(
    conn: AsyncConnection, info: TableInfo, columns: Sequence[Any]
) -> list[dict[str, Any]]:
    """Every row of the relation, fetched as the record page fetches one; columns not
    fetched hold UNREAD."""
    expressions = [kind_for(column).record_expression() for column in columns]
    statement = select(*expressions).select_from(info.table)
    rows = await fetch_rows(conn, statement, expressions)
    names = [column.name for column in columns]
    unread = {column.name: UNREAD for column in info.columns}
    return [{**unread, **dict(zip(names, row, strict=True))} for row in rows]


UNREAD = object()  # a value the test could not read itself: not compared


def raw_expression(column: Any, dialect_name: str) -> ColumnElement[Any]:
    """A column's value as the database's own bytes or text, whatever its type."""
    if dialect_name == "sqlite":
        return func.typeof(column).op("||")(":").op("||")(func.hex(column))
    if dialect_name == "mysql":
        return cast(column, LargeBinary)  # CAST(... AS BINARY)
    return cast(column, Text)


async def raw_rows(
    conn: AsyncConnection, info: TableInfo
) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """Each row's key (as URL text) and its values as the database's own bytes."""
    keys = list(info.primary_key)
    raws = [raw_expression(column, conn.dialect.name) for column in info.columns]
    rows = await fetch_rows(conn, select(*keys, *raws).select_from(info.table), [*keys, *raws])
    return {
        tuple(key_text(value) for value in row[: len(keys)]): tuple(row[len(keys) :])
        for row in rows
    }


async def raw_snapshot(conn: AsyncConnection, info: TableInfo) -> Counter[tuple[Any, ...]]:
    """The relation's rows as the database's own bytes, to compare before and after."""
    raws = [raw_expression(column, conn.dialect.name) for column in info.columns]
    result = await conn.execute(select(*raws).select_from(info.table))
    return Counter(tuple(row) for row in result.all())


async def database_relations(conn: AsyncConnection) -> set[tuple[str | None, str]]:
    """Every table and view the database holds (None: the default schema), read from the
    database itself rather than through the app; a partition is its parent's rows."""
    statement = {
        "sqlite": "SELECT NULL, name FROM sqlite_master WHERE type IN ('table', 'view')"
        " AND name NOT LIKE 'sqlite%'",
        "mysql": "SELECT NULL, table_name FROM information_schema.tables"
        " WHERE table_schema = DATABASE()",
        "postgresql": "SELECT nullif(table_schema, 'public'), table_name"
        " FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        " EXCEPT SELECT nullif(n.nspname, 'public'), c.relname FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relispartition"
        " UNION SELECT nullif(schemaname, 'public'), matviewname FROM pg_matviews",
    }[conn.dialect.name]
    return {tuple(row) for row in (await conn.execute(text(statement))).all()}


@pytest.mark.parametrize(("backend", "corpus_name"), walk_cases())
async def test_walk_of_every_page_over_the_hostile_corpus(
    backend: str, corpus_name: str, engine: AsyncEngine, make_client
) -> None:
    await arrange(engine, corpus_class(backend, corpus_name))
    async with engine.connect() as conn:
        relations = await database_relations(conn)
    errors = ErrorLog()
    logger = logging.getLogger("webapp")
    logger.addHandler(errors)
    try:
        client = await make_client()
        walk = Walk(client, client.app[ENGINE], errors)
        await walk.run(relations)
    finally:
        logger.removeHandler(errors)
    assert walk.requests > 0
    assert not walk.failures, f"{len(walk.failures)} failures:\n" + "\n".join(walk.failures)


def test_corpus_class_names_are_unique_per_backend() -> None:
    for backend, classes in CORPUS.items():
        names: Sequence[str] = [item.name for item in classes]
        assert len(names) == len(set(names)), backend
