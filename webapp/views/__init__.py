"""Request handlers, one module per page family, and the routes that reach them."""

from __future__ import annotations

from aiohttp import web

from webapp.views import (
    admin,
    bulk,
    change_sets,
    console,
    edit,
    export,
    history,
    index,
    login,
    lookup,
    record,
    table,
)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", index.index_page, name="index")
    # Before /t/{table}: a table's name in a URL never holds a dot (urls.tilde_encode).
    app.router.add_get("/t/{table:[^{}/.]+}.{format:csv|json}", export.export_table, name="export")
    app.router.add_get("/t/{table}", table.table_page, name="table")
    app.router.add_get("/t/{table}/new", edit.new_form, name="new")
    app.router.add_post("/t/{table}/new", edit.create_record)
    app.router.add_get("/t/{table}/lookup", lookup.lookup, name="lookup")
    app.router.add_get("/t/{table}/bulk", bulk.bulk_form, name="bulk")
    app.router.add_post("/t/{table}/bulk", bulk.bulk_change)
    app.router.add_get("/t/{table}/r/{key}", record.record_page, name="record")
    app.router.add_get("/t/{table}/r/{key}/edit", edit.edit_form, name="edit")
    app.router.add_post("/t/{table}/r/{key}/edit", edit.save_record)
    app.router.add_get("/t/{table}/r/{key}/delete", edit.delete_form, name="delete")
    app.router.add_post("/t/{table}/r/{key}/delete", edit.delete_record)
    app.router.add_get("/t/{table}/r/{key}/raw/{column}", record.record_value, name="value")
    app.router.add_get(history.ACTIVITY_PAGE, history.activity_page, name="activity")
    app.router.add_get(
        history.ACTIVITY_PAGE + "/{entry}/revert", history.revert_form, name="revert"
    )
    app.router.add_post(history.ACTIVITY_PAGE + "/{entry}/revert", history.revert)
    app.router.add_get(change_sets.SETS_PAGE, change_sets.change_sets_page, name="change_sets")
    app.router.add_get(
        change_sets.SETS_PAGE + "/{set}", change_sets.change_set_page, name="change_set"
    )
    app.router.add_get(
        change_sets.SETS_PAGE + "/{set}/revert", change_sets.revert_set_form, name="revert_set"
    )
    app.router.add_post(change_sets.SETS_PAGE + "/{set}/revert", change_sets.revert_set)
    app.router.add_get("/login", login.login_page, name="login")
    app.router.add_post("/login", login.login)
    app.router.add_get("/login/token/{token}", login.sign_in_link, name="sign_in_link")
    app.router.add_post("/logout", login.logout, name="logout")
    app.router.add_get("/account/password", login.password_page, name="password")
    app.router.add_post("/account/password", login.change_password)
    app.router.add_get(console.SQL_PAGE, console.console_page, name="sql")
    app.router.add_post(console.SQL_PAGE, console.run_console)
    app.router.add_post(
        console.SQL_PAGE + "/download.{format:csv|json}",
        console.download_result,
        name="sql_download",
    )
    app.router.add_get(
        console.SQL_PAGE + "/q/{query}", console.saved_query_page, name="saved_query"
    )
    app.router.add_post(console.SQL_PAGE + "/q/{query}/delete", console.delete_saved_query)
    app.router.add_get(admin.USERS_PAGE, admin.users_page, name="users")
    app.router.add_post(admin.USERS_PAGE, admin.add_user)
    app.router.add_post(
        admin.USERS_PAGE + "/{username}/{action:role|disable|enable|password}",
        admin.change_user,
        name="change_user",
    )
