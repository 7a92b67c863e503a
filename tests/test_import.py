"""Importing files on every backend: CSV (BOM, sniffed delimiter, quoted line breaks) and
JSON, insert and upsert, the mapping step, a dry run's line-numbered errors, all-or-nothing
real runs (a bad row or a row the database refuses late in the file writes nothing), cancel,
revert of the import's change set, roles, hostile values, limits; and the command line's
exit codes."""

from __future__ import annotations

import asyncio
import json
import re
from html import unescape
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import CliResult, form_token, log_rows, orders_table, run_main, table_rows
from webapp.changes import imports

pytestmark = pytest.mark.usefixtures("small_batches")

HOSTILE = [
    "O'Brien; DROP TABLE orders; --",
    "<script>alert(1)</script>",
    '=HYPERLINK("x")',
    "tab\there",
    "\u202eevil\u202c",
    "emoji \U0001f600",
    "line\nbreak",
    '"quoted"',
    "  spaces  ",
]


@pytest.fixture(autouse=True)
def small_import_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports in batches of a few rows, so a test's file takes several."""
    monkeypatch.setattr(imports, "BATCH_ROWS", 4)


@pytest.fixture
async def orders(engine: AsyncEngine) -> Table:
    from sqlalchemy import MetaData

    metadata = MetaData()
    table = orders_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(table),
            [{"id": i, "status": "open", "amount": i, "note": "old"} for i in (1, 2, 3)],
        )
    return table


async def upload(client, content: bytes, filename: str = "rows.csv", **fields: str):
    """Upload `content`; returns the response (a 303 to the file's page when accepted)."""
    token = await form_token(client, "/t/orders/import")
    data = aiohttp.FormData()
    data.add_field("csrf_token", token)
    for name, value in fields.items():
        data.add_field(name, value)
    data.add_field("file", content, filename=filename, content_type="application/octet-stream")
    return await client.post("/t/orders/import", data=data, allow_redirects=False)


async def job_href(client, content: bytes, filename: str = "rows.csv", **fields: str) -> str:
    response = await upload(client, content, filename, **fields)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


def mapping_fields(body: str) -> dict[str, str]:
    """The mapping form's selects as the page chose them."""
    chosen = {}
    for name, select in re.findall(
        r'<select id="(map\d+)" name="map\d+">(.*?)</select>', body, re.S
    ):
        match = re.search(r"<option selected>([^<]*)</option>", select)
        chosen[name] = match.group(1) if match else ""
    return chosen


async def run(client, href: str, action: str, **fields: str) -> str:
    """Post `action` with the page's own mapping (overridden by `fields`), wait for the job
    to end, and return the page."""
    page = await (await client.get(href)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    data = {"csrf_token": token.group(1), "action": action, **mapping_fields(page), **fields}
    response = await client.post(href, data=data, allow_redirects=False)
    assert response.status == 303, await response.text()
    for _ in range(600):
        page = await (await client.get(href)).text()
        if 'http-equiv="refresh"' not in page:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not end")


async def test_csv_with_bom_semicolons_and_quoted_line_breaks_is_imported_and_reverted(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    page = await (await client.get("/t/orders")).text()
    assert 'href="/t/orders/import"' in page
    before = await table_rows(engine, orders)
    lines = ["ID;Status;amount;note"] + [f'{i};open;{i * 10};"row\n{i}"' for i in range(10, 20)]
    href = await job_href(client, ("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    page = await (await client.get(href)).text()
    assert "delimited by semicolon" in page and "10 rows" in page
    assert mapping_fields(page) == {
        "map0": "id",
        "map1": "status",
        "map2": "amount",
        "map3": "note",
    }
    page = await run(client, href, "dry_run")
    assert "10 would be inserted and 0 updated" in page
    assert await table_rows(engine, orders) == before
    page = await run(client, href, "import")
    assert "Imported: 10 rows inserted" in page
    rows = await table_rows(engine, orders)
    assert rows[15] == (15, "open", 150, "row\n15") and len(rows) == 13
    [change_set] = await log_rows(engine, "change_sets")
    assert (change_set["action"], change_set["row_count"]) == ("import", 10)
    assert "rows.csv" in change_set["source"]
    assert f"/activity/sets/{change_set['id']}" in page
    entries = await log_rows(engine, "audit_log")
    assert {e["action"] for e in entries} == {"create"} and len(entries) == 10
    token = await form_token(client, "/activity")
    response = await client.post(
        f"/activity/sets/{change_set['id']}/revert",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert await table_rows(engine, orders) == before


async def test_json_upsert_updates_existing_rows_and_inserts_the_others(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    items = [
        {"id": 2, "status": "paid", "amount": 20, "note": None},
        {"id": 3, "status": "open", "amount": 3, "note": "old"},  # as it is
        {"id": 7, "status": "new", "amount": 70, "note": "seven"},
    ]
    href = await job_href(client, json.dumps(items, indent=2).encode(), "rows.json")
    page = await run(client, href, "dry_run", mode="upsert")
    assert "1 would be inserted and 2 updated" in page
    page = await run(client, href, "import", mode="upsert")
    assert "1 rows inserted, 1 updated, 1 already as in the file" in page
    rows = await table_rows(engine, orders)
    assert rows[2] == (2, "paid", 20, None) and rows[7] == (7, "new", 70, "seven")
    assert rows[3] == (3, "open", 3, "old")
    [change_set] = await log_rows(engine, "change_sets")
    assert change_set["row_count"] == 2
    entries = await log_rows(engine, "audit_log")
    assert sorted(e["action"] for e in entries) == ["create", "update"]


async def test_insert_mode_without_a_key_column_lets_the_database_fill_it(
    make_client, engine: AsyncEngine
) -> None:
    from sqlalchemy import Column, Integer, MetaData, String

    metadata = MetaData()
    notes = Table(
        "orders",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("body", String(40), nullable=False),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    client = await make_client(role="editor")
    href = await job_href(client, b"body\nfirst\nsecond\nthird\nfourth\nfifth\n")
    page = await run(client, href, "import")
    assert "Imported: 5 rows inserted" in page
    assert sorted(row[1] for row in (await table_rows(engine, notes)).values()) == [
        "fifth",
        "first",
        "fourth",
        "second",
        "third",
    ]
    assert len(await log_rows(engine, "audit_log")) == 5


async def test_bad_rows_are_listed_with_their_lines_by_the_dry_run_and_nothing_is_written(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    before = await table_rows(engine, orders)
    content = (
        b"id,status,amount,note\n10,open,1,a\n11,open,lots,b\n"
        b'12,open,,"multi\nline"\n13,open,4,c\n10,open,5,d\n'
    )
    href = await job_href(client, content)
    page = await run(client, href, "dry_run")
    assert "3 rows cannot be imported" in page
    errors = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert [(line, column) for line, column, _ in errors] == [
        ("3", "amount"),
        ("4", "amount"),
        ("7", ""),
    ]
    assert "earlier in the file" in errors[2][2]
    page = await run(client, href, "import")
    assert "rows cannot be imported, so nothing was written" in page
    assert await table_rows(engine, orders) == before
    assert await log_rows(engine, "change_sets") == []
    assert await log_rows(engine, "audit_log") == []


async def test_a_bad_row_late_in_a_real_run_writes_nothing(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    before = await table_rows(engine, orders)
    lines = ["id,status,amount"] + [f"{i},open,{i}" for i in range(10, 30)] + ["30,open,x"]
    href = await job_href(client, "\n".join(lines).encode())
    page = await run(client, href, "import")
    assert "nothing was written" in page and "<td>22</td><td>amount</td>" in page
    assert await table_rows(engine, orders) == before
    assert await log_rows(engine, "change_sets") == []


async def test_a_row_the_database_refuses_late_in_the_file_writes_nothing(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    before = await table_rows(engine, orders)
    # The CHECK constraint refuses a closed order of 1000 or more, in the fifth batch.
    lines = ["id,status,amount"] + [f"{i},open,{i}" for i in range(10, 26)] + ["26,closed,5000"]
    href = await job_href(client, "\n".join(lines).encode())
    page = await run(client, href, "dry_run")
    assert "Every row can be imported" in page
    page = await run(client, href, "import")
    assert "The database refused a row in line 18, so nothing was written" in page
    assert await table_rows(engine, orders) == before
    assert await log_rows(engine, "change_sets") == []
    assert await log_rows(engine, "audit_log") == []


async def test_cancel_stops_the_import_and_rolls_it_back(
    orders, make_client, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = asyncio.Event()
    original = imports.write_batch

    async def slow_batch(*args, **kwargs) -> None:
        await original(*args, **kwargs)
        written.set()
        await asyncio.sleep(0.2)

    monkeypatch.setattr(imports, "write_batch", slow_batch)
    client = await make_client(role="editor")
    before = await table_rows(engine, orders)
    lines = ["id,status,amount"] + [f"{i},open,{i}" for i in range(10, 60)]
    href = await job_href(client, "\n".join(lines).encode())
    page = await (await client.get(href)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    fields = {"csrf_token": token, **mapping_fields(page)}
    await client.post(href, data={**fields, "action": "import"}, allow_redirects=False)
    await asyncio.wait_for(written.wait(), 10)
    page = await (await client.get(href)).text()
    assert "<progress" in page and "rows/s" in page and 'http-equiv="refresh"' in page
    response = await client.post(href, data={**fields, "action": "cancel"}, allow_redirects=False)
    assert response.status == 303
    page = await run_until_done(client, href)
    assert "Cancelled: nothing was written." in page
    assert await table_rows(engine, orders) == before
    assert await log_rows(engine, "change_sets") == []


async def run_until_done(client, href: str) -> str:
    for _ in range(600):
        page = await (await client.get(href)).text()
        if 'http-equiv="refresh"' not in page:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not end")


async def test_hostile_values_arrive_exactly_as_in_the_file(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    items = [
        {"id": 100 + i, "status": "open", "amount": i, "note": value}
        for i, value in enumerate(HOSTILE)
    ]
    href = await job_href(client, json.dumps(items).encode(), "hostile.json")
    page = await run(client, href, "import")
    assert "Imported: 9 rows inserted" in page, page
    rows = await table_rows(engine, orders)
    assert [rows[100 + i][3] for i in range(len(HOSTILE))] == HOSTILE
    csv_lines = ["id,status,amount,note"] + [
        f'{200 + i},open,{i},"{value.replace(chr(34), chr(34) * 2)}"'
        for i, value in enumerate(HOSTILE)
    ]
    href = await job_href(client, "\n".join(csv_lines).encode(), "hostile.csv", delimiter=",")
    page = await run(client, href, "import")
    assert "Imported: 9 rows inserted" in page, page
    rows = await table_rows(engine, orders)
    assert [rows[200 + i][3] for i in range(len(HOSTILE))] == HOSTILE
    # The table and the file's column names are shown escaped.
    href = await job_href(client, b'id,"<b>x</b>"\n1,2\n')
    page = await (await client.get(href)).text()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


async def test_viewers_may_not_import(orders, make_client, engine: AsyncEngine) -> None:
    viewer = await make_client(role="viewer")
    page = await (await viewer.get("/t/orders")).text()
    assert "/t/orders/import" not in page
    assert (await viewer.get("/t/orders/import")).status == 403
    token = await form_token(viewer, "/activity")
    data = aiohttp.FormData()
    data.add_field("csrf_token", token)
    data.add_field("file", b"id,status,amount\n9,open,1\n", filename="x.csv")
    response = await viewer.post("/t/orders/import", data=data, allow_redirects=False)
    assert response.status == 403
    assert len(await table_rows(engine, orders)) == 3


async def test_another_users_file_is_not_found(orders, make_client) -> None:
    editor = await make_client(role="editor")
    href = await job_href(editor, b"id,status,amount\n9,open,1\n")
    admin = await make_client(role="admin")
    assert (await admin.get(href)).status == 404
    assert (await editor.get("/t/orders/import/nosuchjob")).status == 404


async def test_limits_and_unreadable_files_are_refused_clearly(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor", bulk_max_rows=5, bulk_max_file_bytes=2048)
    lines = ["id,status,amount"] + [f"{i},open,{i}" for i in range(10, 16)]
    response = await upload(client, "\n".join(lines).encode())
    assert response.status == 400
    assert "holds 6 rows; an import may hold at most 5" in await response.text()
    response = await upload(client, b"id,status,amount\n" + b"1,open,1\n" * 400)
    assert response.status == 400
    assert "an import accepts at most 2,048 bytes" in await response.text()
    response = await upload(client, b"id,status,amount\n" + b"1,open,1\n" * 10_000)
    assert response.status == 413
    response = await upload(client, b'id,status\n1,"open\n')
    assert response.status == 400 and "Line 2" in await response.text()
    response = await upload(client, b"id,status\n1,\xff\xfe\n")
    assert response.status == 400 and "not UTF-8" in await response.text()
    response = await upload(client, b"id,status\n1,open,extra\n")
    assert response.status == 400 and "Line 2: 3 cells" in await response.text()
    response = await upload(client, b'[{"id": 1}, 2]', "x.json")
    assert response.status == 400 and "Line 1: each item" in await response.text()
    response = await upload(client, b"id,status,amount\n")
    assert response.status == 400 and "no rows" in await response.text()
    assert len(await table_rows(engine, orders)) == 3


async def test_a_mapping_that_cannot_work_is_refused(orders, make_client) -> None:
    client = await make_client(role="editor")
    href = await job_href(client, b"code,status,amount\n9,open,1\n")
    page = await (await client.get(href)).text()
    assert mapping_fields(page)["map0"] == ""
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    base = {"csrf_token": token, "map1": "status", "map2": "amount"}
    response = await client.post(href, data={**base, "action": "import", "mode": "upsert"})
    assert response.status == 400 and "map a file column to 'id'" in unescape(await response.text())
    response = await client.post(href, data={**base, "map0": "status", "action": "dry_run"})
    assert response.status == 400 and "Two file columns" in await response.text()
    response = await client.post(href, data={**base, "map0": "nope", "action": "dry_run"})
    assert response.status == 400


# --- the command line -------------------------------------------------------------------------


def cli(tmp_path: Path, db_url: str, *args: str) -> CliResult:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: {db_url}\n"
        "auth:\n  password_hash: {time_cost: 1, memory_kib: 64, parallelism: 1}\n",
        encoding="utf-8",
    )
    return run_main(*args, "--config", str(config), env={"WEBAPP_SECRET_KEY": "k" * 40})


async def test_cli_imports_checks_and_refuses_with_exit_codes(
    orders, tmp_path: Path, db_url: str, engine: AsyncEngine
) -> None:
    before = await table_rows(engine, orders)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,status,amount\n10,open,1\n11,open,x\n", encoding="utf-8")
    result = cli(tmp_path, db_url, "import", "orders", str(bad))
    assert result.returncode == 2
    assert "webapp: line 3, amount:" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("webapp: error: 1 rows cannot")
    refused = tmp_path / "refused.csv"
    refused.write_text("id,status,amount\n10,open,1\n11,closed,5000\n", encoding="utf-8")
    result = cli(tmp_path, db_url, "import", "orders", str(refused))
    assert result.returncode == 1 and "database refused" in result.stderr
    result = cli(tmp_path, db_url, "import", "nosuch", str(bad))
    assert result.returncode == 2 and "no table named 'nosuch'" in result.stderr
    result = cli(tmp_path, db_url, "import", "orders", str(tmp_path / "missing.csv"))
    assert result.returncode == 2 and "cannot read" in result.stderr
    assert await table_rows(engine, orders) == before
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"id": 3, "status": "paid", "amount": 30}]), encoding="utf-8")
    result = cli(tmp_path, db_url, "import", "orders", str(good), "--upsert", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "0 would be inserted and 1 updated" in result.stdout
    assert "rows/s" not in result.stderr  # no progress bar when not on a terminal
    assert await table_rows(engine, orders) == before
    result = cli(tmp_path, db_url, "import", "orders", str(good), "--upsert")
    assert result.returncode == 0, result.stderr
    assert (await table_rows(engine, orders))[3] == (3, "paid", 30, "old")
    [change_set] = await log_rows(engine, "change_sets")
    assert (change_set["action"], change_set["username"]) == ("import", "cli")
    result = cli(tmp_path, db_url, "import", "orders", str(good), "--user", "nobody")
    assert result.returncode == 2 and "no user named 'nobody'" in result.stderr


async def test_a_dry_run_shows_the_first_100_errors_and_counts_them_all(
    orders, make_client, engine: AsyncEngine
) -> None:
    client = await make_client(role="editor")
    lines = ["id,status,amount"] + [f"{i},open,bad" for i in range(10, 115)]
    href = await job_href(client, "\n".join(lines).encode())
    page = await run(client, href, "dry_run")
    assert "105 rows cannot be imported" in page and "(the first 100 of 105)" in page
    assert page.count("<td>amount</td>") == 100 and "<td>101</td>" in page
    assert len(await table_rows(engine, orders)) == 3


async def test_the_command_line_draws_a_progress_bar_on_a_terminal() -> None:
    import io

    from webapp.changes.import_command import show_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    progress = imports.ImportProgress(total=200, done=50)
    out = Terminal()
    task = asyncio.create_task(show_progress(progress, out))
    await asyncio.sleep(0.1)
    task.cancel()
    assert "\r[#####...............] 50/200 rows," in out.getvalue()
    assert "rows/s" in out.getvalue()
