"""Request handlers, one module per page family, and the routes that reach them."""

from __future__ import annotations

from aiohttp import web

from . import edit, index, record, table


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", index.index_page, name="index")
    app.router.add_get("/t/{table}", table.table_page, name="table")
    app.router.add_get("/t/{table}/new", edit.new_form, name="new")
    app.router.add_post("/t/{table}/new", edit.create_record)
    app.router.add_get("/t/{table}/lookup", edit.lookup, name="lookup")
    app.router.add_get("/t/{table}/r/{key}", record.record_page, name="record")
    app.router.add_get("/t/{table}/r/{key}/edit", edit.edit_form, name="edit")
    app.router.add_post("/t/{table}/r/{key}/edit", edit.save_record)
    app.router.add_get("/t/{table}/r/{key}/delete", edit.delete_form, name="delete")
    app.router.add_post("/t/{table}/r/{key}/delete", edit.delete_record)
    app.router.add_get("/t/{table}/r/{key}/raw/{column}", record.record_value, name="value")
