"""One gate for writes (roles.write_refusal): every write path, create, edit, delete
and revert, with its form page, refuses a table the gate refuses, with the gate's sentence,
and writes nothing; the same user passes on a table the gate lets through."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import install, owners
from tests.helpers import form_token
from webapp.settings import table_options

RULES = {"owners": {"roles": {"editor": {"read_only": True}}}}
GATE = "This table is read-only for your role (editor)."


async def owner_rows(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(select(owners).order_by(owners.c.id))]


async def test_every_write_path_refuses_what_the_gate_refuses(
    engine: AsyncEngine, make_client, open_form
) -> None:
    await install(engine)
    admin = await make_client(role="admin", tables=table_options(RULES))
    form = await open_form(admin, "/t/owners/r/2/edit")
    form.set("name", "Renamed by admin")
    assert (await form.submit(admin)).status == 303
    before = await owner_rows(engine)

    editor = await make_client(role="editor", tables=table_options(RULES))
    activity = await (await editor.get("/activity?table=owners")).text()
    assert "/revert" not in activity  # the gate hides what it would refuse
    admin_activity = await (await admin.get("/activity?table=owners")).text()
    entry = admin_activity.split('href="/activity/', 1)[1].split("/revert", 1)[0]
    token = await form_token(editor, "/activity")
    for path in ("/t/owners/new", "/t/owners/r/1/edit", "/t/owners/r/1/delete"):
        page = await editor.get(path)
        assert page.status == 403, path
        assert GATE in await page.text(), path
    for path, data in [
        ("/t/owners/new", {"c0": "99", "c1": "new owner"}),
        ("/t/owners/r/1/edit", {"c1": "edited", "row_version": "any"}),
        ("/t/owners/r/1/delete", {"row_version": "any"}),
        (f"/activity/{entry}/revert", {}),
    ]:
        response = await editor.post(
            path, data={**data, "csrf_token": token}, allow_redirects=False
        )
        assert response.status == 403, path
        assert GATE in await response.text(), path
    assert await owner_rows(engine) == before


@pytest.mark.parametrize("path", ["/t/items/new", "/t/items/r/1/edit", "/t/items/r/1/delete"])
async def test_the_gate_lets_an_editor_write_other_tables(
    engine: AsyncEngine, make_client, path: str
) -> None:
    await install(engine)
    editor = await make_client(role="editor", tables=table_options(RULES))
    assert (await editor.get(path)).status == 200
