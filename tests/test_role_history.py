"""History, activity and revert under per-role rules: a role sees no hidden table or column
in any change, and the audit trail keeps whole rows so a revert loses nothing a role could
not see."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import install, items
from tests.helpers import ROLE_RULES, form_token
from webapp.settings import table_options


async def test_viewer_history_and_activity_show_no_hidden_column_or_table(
    engine: AsyncEngine, make_client, open_form
) -> None:
    await install(engine)
    admin = await make_client(role="admin", tables=table_options(ROLE_RULES))
    form = await open_form(admin, "/t/items/r/3/edit")
    form.set("name", "Renamed three")
    form.set("secret", "changed-secret-value")
    assert (await form.submit(admin)).status == 303
    form = await open_form(admin, "/t/owners/r/2/edit")
    form.set("name", "Owner renamed")
    assert (await form.submit(admin)).status == 303
    admin_activity = await (await admin.get("/activity")).text()
    assert "changed-secret-value" in admin_activity and "Owner renamed" in admin_activity

    viewer = await make_client(role="viewer", tables=table_options(ROLE_RULES))
    for path in ("/t/items/r/3", "/activity", "/activity?table=items"):
        response = await viewer.get(path)
        assert response.status == 200, path
        body = await response.text()
        assert "Renamed three" in body, path
        for secret in ("changed-secret-value", "s3cr3t-3", "Owner renamed", "owners"):
            assert secret not in body, (secret, path)
    hidden_table = await viewer.get("/activity?table=owners")
    assert "Owner renamed" not in await hidden_table.text()


async def test_revert_of_a_delete_by_a_narrowed_role_restores_its_hidden_columns(
    engine: AsyncEngine, make_client, open_form
) -> None:
    await install(engine)
    editor = await make_client(role="editor", tables=table_options(ROLE_RULES))
    form = await open_form(editor, "/t/items/r/5/delete")
    assert (await form.submit(editor)).status == 303
    async with engine.connect() as conn:
        assert (await conn.execute(select(items).where(items.c.id == 5))).first() is None
    # The editor cannot see `secret`, so cannot restore it: no revert offered, 403 if forced.
    page = await (await editor.get("/activity")).text()
    assert "/revert" not in page
    admin = await make_client(role="admin", tables=table_options(ROLE_RULES))
    admin_page = await (await admin.get("/activity")).text()
    revert_path = re.search(r'href="(/activity/\d+/revert)"', admin_page).group(1)
    token = await form_token(editor, "/activity")
    forced = await editor.post(revert_path, data={"csrf_token": token}, allow_redirects=False)
    assert forced.status == 403
    token = await form_token(admin, "/activity")
    response = await admin.post(revert_path, data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303, await response.text()
    async with engine.connect() as conn:
        row = (await conn.execute(select(items).where(items.c.id == 5))).one()
    assert (row.secret, row.note) == ("s3cr3t-5", "note 5")
