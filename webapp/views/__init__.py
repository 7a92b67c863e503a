"""Request handlers, one module per page family, and the routes that reach them."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from webapp.views import (
    admin,
    bulk,
    cells,
    change_sets,
    console,
    edit,
    export,
    health,
    history,
    imports,
    index,
    login,
    lookup,
    metrics,
    record,
    schema_pages,
    statistics,
    table,
    tokens,
)


def setup_routes(app: web.Application) -> None:
    """Every path has one named resource, so templates build each URL with `url('name')`;
    a form's GET and its POST share their path's name."""
    app.router.add_get("/", index.index_page, name="index")
    app.router.add_get(health.HEALTH_PATH, health.healthz, name="healthz")
    app.router.add_get(health.READY_PATH, health.readyz, name="readyz")
    app.router.add_get(metrics.METRICS_PATH, metrics.metrics_page, name="metrics")
    # Before /t/{table}: a table's name in a URL never holds a dot (urls.tilde_encode).
    app.router.add_get("/t/{table:[^{}/.]+}.{format:csv|json}", export.export_table, name="export")
    app.router.add_get("/t/{table}", table.table_page, name="table")
    _form(app, "/t/{table}/new", "new", edit.new_form, edit.create_record)
    app.router.add_get("/t/{table}/lookup", lookup.lookup, name="lookup")
    app.router.add_get("/schema", schema_pages.schema_page, name="schema")
    app.router.add_get("/t/{table}/schema", schema_pages.table_schema_page, name="table_schema")
    app.router.add_get(
        "/t/{table}/stats/{column}", statistics.statistics_page, name="column_statistics"
    )
    _form(app, "/t/{table}/bulk", "bulk", bulk.bulk_form, bulk.bulk_change)
    _form(app, "/t/{table}/import", "import_file", imports.import_form, imports.upload)
    _form(app, "/t/{table}/import/{job}", "import_job", imports.job_page, imports.job_action)
    app.router.add_get(
        "/t/{table}/bulk.{format:csv|json}", bulk.export_selection, name="bulk_export"
    )
    app.router.add_get("/t/{table}/r/{key}", record.record_page, name="record")
    _form(app, "/t/{table}/r/{key}/edit", "edit", edit.edit_form, edit.save_record)
    _form(app, "/t/{table}/r/{key}/cell", "cell", cells.cell_value, cells.save_cell)
    _form(app, "/t/{table}/r/{key}/delete", "delete", edit.delete_form, edit.delete_record)
    app.router.add_get("/t/{table}/r/{key}/raw/{column}", record.record_value, name="value")
    app.router.add_get("/t/{table}/r/{key}/image/{column}", record.record_image, name="image")
    app.router.add_get(history.ACTIVITY_PAGE, history.activity_page, name="activity")
    revert_path = history.ACTIVITY_PAGE + "/{entry}/revert"
    _form(app, revert_path, "revert", history.revert_form, history.revert)
    app.router.add_get(change_sets.SETS_PAGE, change_sets.change_sets_page, name="change_sets")
    app.router.add_get(
        change_sets.SETS_PAGE + "/{set}", change_sets.change_set_page, name="change_set"
    )
    revert_set_path = change_sets.SETS_PAGE + "/{set}/revert"
    _form(app, revert_set_path, "revert_set", change_sets.revert_set_form, change_sets.revert_set)
    _form(app, "/login", "login", login.login_page, login.login)
    app.router.add_get("/login/token/{token}", login.sign_in_link, name="sign_in_link")
    app.router.add_post("/logout", login.logout, name="logout")
    _form(app, "/account/password", "password", login.password_page, login.change_password)
    _form(app, tokens.TOKENS_PAGE, "tokens", tokens.tokens_page, tokens.add_token)
    app.router.add_post(tokens.TOKENS_PAGE + "/{token}/revoke", tokens.revoke, name="revoke_token")
    _form(app, admin.USERS_PAGE, "users", admin.users_page, admin.add_user)
    _form(app, console.SQL_PAGE, "sql", console.console_page, console.run_console)
    app.router.add_post(
        console.SQL_PAGE + "/download.{format:csv|json}",
        console.download_result,
        name="sql_download",
    )
    app.router.add_get(
        console.SQL_PAGE + "/q/{query}", console.saved_query_page, name="saved_query"
    )
    app.router.add_post(
        console.SQL_PAGE + "/q/{query}/delete",
        console.delete_saved_query,
        name="delete_saved_query",
    )
    app.router.add_post(
        admin.USERS_PAGE + "/{username}/{action:role|disable|enable|password}",
        admin.change_user,
        name="change_user",
    )


def _form(app: web.Application, path: str, name: str, page: Handler, submit: Handler) -> None:
    """A page with a form (GET, and HEAD as add_get gives it) that posts back to its path."""
    resource = app.router.add_resource(path, name=name)
    resource.add_route("HEAD", page)
    resource.add_route("GET", page)
    resource.add_route("POST", submit)
