"""The bare reference the benchmark compares the app with: aiohttp, a raw aiomysql pool and
aiohttp-jinja2, one handler that fetches the table page's first 50 rows (the same columns,
notes cut to the same 201 characters in the database) and renders them in a plain table,
one (`/json`) that fetches them whole and writes them with json.dumps, the API's
reference, and one (`/r/{id}`) that fetches a record with its owner's label and the counts
of rows that reference it, the record page's reference. What the stack allows, with
nothing of the app in between.

Run: python bench/reference_app.py --port 8090 --url mysql+aiomysql://root@127.0.0.1:3306/db
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import aiomysql
import jinja2
from aiohttp import web
from sqlalchemy.engine import make_url

POOL: web.AppKey[aiomysql.Pool] = web.AppKey("pool", aiomysql.Pool)
COLUMNS = ("id", "owner_id", "name", "email", "status", "amount", "created_at", "notes")
FIRST_PAGE = (
    "SELECT id, owner_id, name, email, status, amount, created_at, SUBSTRING(notes, 1, 201) "
    "FROM records ORDER BY id LIMIT 50"
)


# The JSON twin: the same 50 rows whole (the API cuts nothing), as json.dumps writes them.
FIRST_PAGE_JSON = (
    "SELECT id, owner_id, name, email, status, amount, created_at, notes "
    "FROM records ORDER BY id LIMIT 50"
)


async def first_page_json(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn, conn.cursor() as cursor:
        await cursor.execute(FIRST_PAGE_JSON)
        rows = await cursor.fetchall()
    document = {"rows": [dict(zip(COLUMNS, row, strict=True)) for row in rows]}
    return web.Response(text=json.dumps(document, default=str), content_type="application/json")


@aiohttp_jinja2.template("reference.html")
async def first_page(request: web.Request) -> dict[str, object]:
    async with request.app[POOL].acquire() as conn, conn.cursor() as cursor:
        await cursor.execute(FIRST_PAGE)
        rows = await cursor.fetchall()
    return {"columns": COLUMNS, "rows": rows}


# The record page's reference: the row whole with its foreign key's label, in one statement
# (as the app fetches them), then the rows referencing it counted per referencing table (no
# table references records in the benchmark's data, so there are none to count).
RECORD = (
    "SELECT r.id, r.owner_id, r.name, r.email, r.status, r.amount, r.created_at, r.notes, "
    "(SELECT o.name FROM owners o WHERE o.id = r.owner_id) FROM records r WHERE r.id = %s"
)
REFERENCING: tuple[tuple[str, str], ...] = ()  # (table, SQL counting its rows given the id)


async def record(request: web.Request) -> web.Response:
    try:
        key = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    async with request.app[POOL].acquire() as conn, conn.cursor() as cursor:
        await cursor.execute(RECORD, (key,))
        row = await cursor.fetchone()
        if row is None:
            raise web.HTTPNotFound()
        counts = []
        for table, sql in REFERENCING:
            await cursor.execute(sql, (key,))
            counts.append((table, (await cursor.fetchone())[0]))
    context = {
        "fields": list(zip(COLUMNS, row[: len(COLUMNS)], strict=True)),
        "owner_label": row[-1],
        "referencing": counts,
    }
    return aiohttp_jinja2.render_template("reference_record.html", request, context)


def create_reference_app(url: str, pool_size: int = 10) -> web.Application:
    parsed = make_url(url)

    async def pool_context(app: web.Application) -> AsyncIterator[None]:
        pool = await aiomysql.create_pool(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.username or "root",
            password=parsed.password or "",
            db=parsed.database,
            charset="utf8mb4",
            autocommit=True,
            minsize=1,
            maxsize=pool_size,
        )
        app[POOL] = pool
        yield
        pool.close()
        await pool.wait_closed()

    app = web.Application()
    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True
    )
    app.cleanup_ctx.append(pool_context)
    app.router.add_get("/", first_page)
    app.router.add_get("/json", first_page_json)
    app.router.add_get("/r/{id}", record)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="mysql+aiomysql://user@host:port/database")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--pool-size",
        type=int,
        default=10,
        help="most connections at once (default 10: the app's pool_size 5 plus its overflow 5)",
    )
    args = parser.parse_args()
    web.run_app(
        create_reference_app(args.url, args.pool_size),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
